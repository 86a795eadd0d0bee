"""Drift between units of one hardware profile: fingerprint fields that differ, and
performance figures far from the fleet's median.

Fingerprint fields come from each unit's own report (serving stage, else preflight): per
node the driver, firmware, kernel and OS the host stage read, and per target the image id,
engine version and weights manifest hash. A field whose value differs between units of the
same profile is drift; so is one that differs between the nodes of one unit.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from deploy_helpers.fleet.gather import UnitResult

NODE_FIELDS = ("driver", "firmware", "chip", "kernel", "os")
# (field name, section of the target's fingerprint, key in it)
TARGET_FIELDS = (
    ("image id", "image", "id"),
    ("engine version", "engine", "version"),
    ("weights manifest sha256", "weights", "manifest_sha256"),
)
# (figure, metric or None for throughput, statistic, True when higher is better)
FIGURES = (
    ("output tok/s", None, None, True),
    ("TTFT p99 ms", "ttft_ms", "p99", False),
    ("TPOT p99 ms", "tpot_ms", "p99", False),
)
OUTLIER_TOLERANCE = 0.2  # a figure this far (relative) from its group's median is an outlier
MIN_UNITS_FOR_OUTLIERS = 3  # with two units the median is their midpoint: no odd one out


def latest_summary(result: UnitResult) -> dict[str, Any] | None:
    """The unit's most complete report: its serving stage's, else its preflight's."""
    for stage in ("serve", "preflight"):
        if result.stages[stage].summary is not None:
            return result.stages[stage].summary
    return None


def node_values(summary: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    """Per node label, the node facts the host stage recorded (else the run's host facts)."""
    nodes = summary["fingerprint"]["targets"].get(target, {}).get("host_nodes")
    if isinstance(nodes, dict) and nodes:
        return nodes
    return {"host": summary["fingerprint"]["host"]}


def unit_fingerprint(result: UnitResult) -> dict[str, Any]:
    """The unit's drift fields: one value each, or {node: value} when its nodes differ."""
    summary = latest_summary(result)
    if summary is None:
        return {}
    target = result.unit.target_id
    out: dict[str, Any] = {}
    nodes = node_values(summary, target)
    for name in NODE_FIELDS:
        values = {
            label: facts.get(name) for label, facts in nodes.items() if facts.get(name) is not None
        }
        if values:
            distinct = set(map(str, values.values()))
            out[name] = next(iter(values.values())) if len(distinct) == 1 else values
    sections = summary["fingerprint"]["targets"].get(target, {})
    for name, section, key in TARGET_FIELDS:
        value = (
            sections.get(section, {}).get(key) if isinstance(sections.get(section), dict) else None
        )
        if value is not None:
            out[name] = value
    return out


def drift(results: list[UnitResult]) -> list[dict[str, Any]]:
    """Fields that differ across the units of one profile, or across one unit's nodes.

    Each row: profile, field, values {unit: value}, the most common value and the units
    that differ from it (all of them when no value is the most common).
    """
    by_profile: dict[str, list[UnitResult]] = defaultdict(list)
    for result in results:
        by_profile[result.unit.hardware].append(result)
    rows = []
    for profile, members in sorted(by_profile.items()):
        prints = {r.unit.name: unit_fingerprint(r) for r in members}
        fields = [
            f
            for f in (*NODE_FIELDS, *(t[0] for t in TARGET_FIELDS))
            if any(f in p for p in prints.values())
        ]
        for name in fields:
            values = {unit: p[name] for unit, p in prints.items() if name in p}
            within = [u for u, v in values.items() if isinstance(v, dict)]
            texts = {u: as_text(v) for u, v in values.items()}
            counts = Counter(texts.values())
            if len(counts) < 2 and not within:
                continue
            top, top_n = counts.most_common(1)[0]
            tied = sum(1 for n in counts.values() if n == top_n) > 1
            odd = sorted(u for u, t in texts.items() if tied or t != top or u in within)
            rows.append(
                {
                    "profile": profile,
                    "field": name,
                    "values": texts,
                    "majority": None if tied else top,
                    "differing": odd,
                    "within_unit": sorted(within),
                }
            )
    return rows


def as_text(value: Any) -> str:
    """A field value as one line: a per-node mapping as `node: value; ...`."""
    if isinstance(value, dict):
        return "; ".join(f"{node}: {v}" for node, v in value.items())
    return str(value)


def figures(result: UnitResult) -> dict[str, float]:
    """The unit's key performance figures, '<shape> c=<n> <figure>' -> value."""
    summary = result.stages["serve"].summary
    out: dict[str, float] = {}
    for perf in (summary or {}).get("perf", []):
        shape = f"{perf['name']} c={perf['concurrency']}"
        for figure, metric, stat, _ in FIGURES:
            value = (
                perf.get("output_tok_s")
                if metric is None
                else perf.get("metrics", {}).get(metric, {}).get(stat)
            )
            if value is not None:
                out[f"{shape} {figure}"] = float(value)
    return out


def outliers(
    results: list[UnitResult], tolerance: float = OUTLIER_TOLERANCE
) -> list[dict[str, Any]]:
    """Every unit's figures against the median of its profile, flagged beyond `tolerance`.

    Each row: profile, figure, unit, value, median, deviation_pct, outlier (True, False, or
    None when the profile has too few units measured to single one out) and worse (the
    deviation is in the bad direction).
    """
    grouped: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for result in results:
        for name, value in figures(result).items():
            grouped[(result.unit.hardware, name)][result.unit.name] = value
    rows = []
    for (profile, name), values in sorted(grouped.items()):
        median = statistics.median(values.values())
        higher_better = next(f[3] for f in FIGURES if name.endswith(f" {f[0]}"))
        for unit, value in sorted(values.items()):
            deviation = (value / median - 1) if median else 0.0
            judged = len(values) >= MIN_UNITS_FOR_OUTLIERS
            rows.append(
                {
                    "profile": profile,
                    "figure": name,
                    "unit": unit,
                    "value": round(value, 2),
                    "median": round(median, 2),
                    "deviation_pct": round(100 * deviation, 1),
                    "outlier": abs(deviation) > tolerance if judged else None,
                    "worse": deviation < 0 if higher_better else deviation > 0,
                }
            )
    return rows
