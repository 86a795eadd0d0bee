"""Performance and score plots for report.html, as base64 PNG (the page stays self-contained)."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only
import matplotlib.pyplot as plt  # after use(): the backend must be chosen first

LATENCIES = (("ttft_ms", "TTFT (ms)"), ("tpot_ms", "TPOT (ms)"))


def label(result: dict[str, Any], with_target: bool) -> str:
    """Axis label of one measurement."""
    text = f"{result['name']}\nc={result['concurrency']}"
    return f"{result.get('target', '-')}\n{text}" if with_target else text


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def latency_distributions(results: list[dict[str, Any]]) -> str:
    """TTFT and TPOT per measurement: box plots of the samples, else median/p90/p99 marks."""
    with_target = len({r.get("target") for r in results}) > 1
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (metric, title) in zip(axes, LATENCIES, strict=True):
        positions = range(1, len(results) + 1)
        for pos, result in zip(positions, results, strict=True):
            samples = (result.get("samples") or {}).get(metric)
            if samples:
                ax.boxplot([samples], positions=[pos], widths=0.5, showfliers=True)
            else:
                stats = result["metrics"].get(metric, {})
                for stat, marker in (("median", "o"), ("p90", "^"), ("p99", "v")):
                    if stat in stats:
                        ax.plot(pos, stats[stat], marker, color="tab:blue")
        ax.set_xticks(list(positions), [label(r, with_target) for r in results], fontsize=8)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Latency distributions per request (vLLM definitions)", fontsize=10)
    return _png(fig)


def throughput_vs_concurrency(results: list[dict[str, Any]]) -> str | None:
    """Output tok/s against concurrency per (target, shape); None unless a sweep was measured."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for result in results:
        series[f"{result.get('target', '-')} {result['name']}"].append(
            (result["concurrency"], result["output_tok_s"])
        )
    if not any(len({c for c, _ in points}) > 1 for points in series.values()):
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, points in sorted(series.items()):
        points.sort()
        ax.plot([c for c, _ in points], [t for _, t in points], "o-", label=name)
    ax.set_xlabel("concurrency")
    ax.set_ylabel("output tokens/s")
    ax.set_title("Throughput vs concurrency", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def perf_plots(results: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every plot the perf results support, as {title, png} with base64 PNG data."""
    if not results:
        return []
    plots = [{"title": "TTFT / TPOT distributions", "png": latency_distributions(results)}]
    sweep = throughput_vs_concurrency(results)
    if sweep:
        plots.append({"title": "Throughput vs concurrency", "png": sweep})
    return plots


def scores_plot(scores: list[dict[str, Any]]) -> str | None:
    """Each score with its 95 % interval, its floor (|) and chance (x); None without scores."""
    from deploy_helpers.report.scores import label

    if not scores:
        return None
    with_target = len({s.get("target") for s in scores}) > 1
    names = [f"{s.get('target')}  {label(s)}" if with_target else label(s) for s in scores]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(scores) + 1.2))
    for row, score in enumerate(scores):
        value = score["value"]
        color = {"passed": "tab:green", "failed": "tab:red", "waived": "tab:orange"}.get(
            score.get("outcome"), "tab:gray"
        )
        low, high = score.get("interval") or (value, value)
        ax.errorbar(
            value, row, xerr=[[value - low], [high - value]], fmt="o", color=color, capsize=3
        )
        if score.get("floor") is not None:
            ax.plot(score["floor"], row, "|", color="black", markersize=14)
        if score.get("chance") is not None:
            ax.plot(score["chance"], row, "x", color="tab:gray")
    ax.set_yticks(range(len(scores)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("score / pass rate (dot: measured with 95% interval, |: floor, x: chance)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Task scores and BFCL pass rates", fontsize=10)
    return _png(fig)
