"""Compare two runs (release qualification): outcomes that changed, figures that moved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploy_helpers.report import perf

PASSING = ("passed", "xfailed", "xpassed", "waived", "skipped")
HIGHER_IS_BETTER = ("output_tok_s",)


@dataclass
class RunDiff:
    """What changed from run A to run B."""

    outcomes: list[dict[str, str]] = field(default_factory=list)
    perf: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def regressions(self) -> int:
        """Checks that stopped passing plus figures that got worse beyond the tolerance."""
        return sum(1 for changes in (self.outcomes, self.perf, self.measurements)
                   for c in changes if c["change"] == "regressed")


def _outcomes(a: dict, b: dict) -> list[dict[str, str]]:
    before = {t["nodeid"]: t["outcome"] for t in a["tests"]}
    after = {t["nodeid"]: t["outcome"] for t in b["tests"]}
    changes = []
    for nodeid in sorted(before.keys() | after.keys()):
        old, new = before.get(nodeid, "absent"), after.get(nodeid, "absent")
        if old == new:
            continue
        if new in ("failed", "error"):
            change = "regressed"
        elif old in ("failed", "error") and new in PASSING:
            change = "fixed"
        else:
            change = "changed"
        changes.append({"nodeid": nodeid, "before": old, "after": new, "change": change})
    return changes


def _figures(result: dict[str, Any]) -> dict[str, float]:
    figures = {"output_tok_s": float(result["output_tok_s"])}
    for metric, stats in result["metrics"].items():
        for stat in perf.STATS:
            if stat in stats:
                figures[f"{metric}.{stat}"] = float(stats[stat])
    return figures


def _perf(a: dict, b: dict, tolerance: float) -> list[dict[str, Any]]:
    before = {perf.key(r): _figures(r) for r in a["perf"]}
    after = {perf.key(r): _figures(r) for r in b["perf"]}
    moved = []
    for key in sorted(before.keys() & after.keys()):
        for name in sorted(before[key].keys() & after[key].keys()):
            old, new = before[key][name], after[key][name]
            if old == 0:
                continue
            ratio = new / old - 1
            if abs(ratio) <= tolerance:
                continue
            better = ratio > 0 if name in HIGHER_IS_BETTER else ratio < 0
            moved.append({"measurement": key, "figure": name, "before": old, "after": new,
                          "change_pct": round(100 * ratio, 1),
                          "change": "improved" if better else "regressed"})
    for key in sorted(before.keys() ^ after.keys()):
        moved.append({"measurement": key, "figure": "-", "before": None, "after": None,
                      "change_pct": None, "change": "only in A" if key in before else "only in B"})
    return moved


def _measurement_change(old: Any, new: Any, better: str | None, tolerance: float) -> str | None:
    """How a measurement moved: None within the tolerance, else improved/regressed/changed."""
    if isinstance(old, bool) or isinstance(new, bool) or old is None or new is None:
        if old == new:
            return None
        return "regressed" if old is True and new is not True else "changed"
    if old == new or (old != 0 and abs(new / old - 1) <= tolerance):
        return None
    if better is None:
        return "changed"
    return "improved" if (new > old) == (better == "higher") else "regressed"


def _measurements(a: dict, b: dict, tolerance: float) -> list[dict[str, Any]]:
    """Measurements (pass rates, TPOT ratios, post-storm time, survival) that moved."""
    def by_key(summary: dict) -> dict[str, dict[str, Any]]:
        return {f"{m['nodeid']}|{m['name']}": m for m in summary.get("measurements", [])}

    before, after = by_key(a), by_key(b)
    moved = []
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key]["value"], after[key]["value"]
        change = _measurement_change(old, new, after[key].get("better"), tolerance)
        if change:
            moved.append({"measurement": key, "before": old, "after": new, "change": change,
                          "unit": after[key]["unit"]})
    return moved


def _fingerprint(a: dict, b: dict) -> list[dict[str, Any]]:
    """Differences in what identifies the stack: suite, host keys, per-target engine/weights."""
    def flat(fp: dict) -> dict[str, Any]:
        out = {f"suite.{k}": v for k, v in fp["suite"].items()}
        out.update({f"host.{k}": v for k, v in fp["host"].items() if k != "hostname"})
        for target, sections in fp["targets"].items():
            for section, facts in sections.items():
                if isinstance(facts, dict):
                    out.update({f"{target}.{section}.{k}": v for k, v in facts.items()
                                if k not in ("endpoint", "path")})
        return out

    fa, fb = flat(a["fingerprint"]), flat(b["fingerprint"])
    return [{"key": k, "before": fa.get(k), "after": fb.get(k)}
            for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)]


def diff(a: dict[str, Any], b: dict[str, Any], tolerance: float = 0.05) -> RunDiff:
    """Compare summaries `a` (before) and `b` (after); `tolerance` is a fraction (0.05 = 5%)."""
    return RunDiff(_outcomes(a, b), _perf(a, b, tolerance), _fingerprint(a, b),
                   _measurements(a, b, tolerance))


def as_text(result: RunDiff, a: dict, b: dict, tolerance: float) -> str:
    """The diff as lines for a terminal."""
    lines = [f"A {a['run_id']}: {a['verdict']}", f"B {b['run_id']}: {b['verdict']}", ""]
    lines.append(f"outcomes that changed ({len(result.outcomes)}):")
    lines += [f"  {o['change']:<9} {o['nodeid']}: {o['before']} -> {o['after']}"
              for o in result.outcomes] or ["  none"]
    lines.append(f"performance beyond {tolerance:.0%} ({len(result.perf)}):")
    lines += [
        f"  {p['change']:<9} {p['measurement']} {p['figure']}: {p['before']} -> {p['after']}"
        + (f" ({p['change_pct']:+.1f}%)" if p["change_pct"] is not None else "")
        for p in result.perf
    ] or ["  none"]
    lines.append(f"measurements beyond {tolerance:.0%} ({len(result.measurements)}):")
    lines += [f"  {m['change']:<9} {m['measurement']}: {m['before']} -> {m['after']} {m['unit']}"
              for m in result.measurements] or ["  none"]
    lines.append(f"fingerprint differences ({len(result.fingerprint)}):")
    lines += [f"  {f['key']}: {f['before']} -> {f['after']}" for f in result.fingerprint] or [
        "  none"]
    return "\n".join(lines)
