"""Compare two runs (release qualification): outcomes that changed, figures that moved,
task scores and pass rates that moved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploy_helpers.report import perf, scores

PASSING = ("passed", "xfailed", "xpassed", "waived", "skipped")
HIGHER_IS_BETTER = ("output_tok_s",)


@dataclass
class RunDiff:
    """What changed from run A to run B."""

    outcomes: list[dict[str, str]] = field(default_factory=list)
    perf: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)

    @property
    def regressions(self) -> int:
        """Checks that stopped passing, figures that got worse beyond the tolerance, and
        scores that fell below the other run's interval."""
        return sum(
            1
            for changes in (self.outcomes, self.perf, self.measurements, self.scores)
            for c in changes
            if c["change"] == "regressed"
        )


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
            moved.append(
                {
                    "measurement": key,
                    "figure": name,
                    "before": old,
                    "after": new,
                    "change_pct": round(100 * ratio, 1),
                    "change": "improved" if better else "regressed",
                }
            )
    for key in sorted(before.keys() ^ after.keys()):
        moved.append(
            {
                "measurement": key,
                "figure": "-",
                "before": None,
                "after": None,
                "change_pct": None,
                "change": "only in A" if key in before else "only in B",
            }
        )
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

    def by_key(summary: dict) -> dict[str, dict[str, Any]]:  # scores are compared apart
        return {
            f"{m['nodeid']}|{m['name']}": m
            for m in summary.get("measurements", [])
            if m.get("kind") not in scores.KINDS
        }

    before, after = by_key(a), by_key(b)
    moved = []
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key]["value"], after[key]["value"]
        change = _measurement_change(old, new, after[key].get("better"), tolerance)
        if change:
            moved.append(
                {
                    "measurement": key,
                    "before": old,
                    "after": new,
                    "change": change,
                    "unit": after[key]["unit"],
                }
            )
    return moved


def _outside(value: float, interval: list[float] | None) -> bool:
    return interval is not None and not interval[0] <= value <= interval[1]


def _scores(a: dict, b: dict) -> list[dict[str, Any]]:
    """Scores in both runs that moved: `regressed` / `improved` when each run's score lies
    outside the other's 95 % interval, `within noise` when either lies inside it."""
    before = {scores.key(m): m for m in scores.scores_of(a)}
    after = {scores.key(m): m for m in scores.scores_of(b)}
    moved = []
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        delta = new["value"] - old["value"]
        if abs(delta) < 1e-9:
            continue
        beyond = _outside(new["value"], old.get("interval")) and _outside(
            old["value"], new.get("interval")
        )
        change = ("improved" if delta > 0 else "regressed") if beyond else "within noise"
        moved.append(
            {
                "score": f"{new.get('target')} {scores.label(new)} {new.get('metric')}",
                "before": old["value"],
                "after": new["value"],
                "change_points": round(100 * delta, 1),
                "change": change,
                "samples": [old.get("samples"), new.get("samples")],
            }
        )
    return moved


def _fingerprint(a: dict, b: dict) -> list[dict[str, Any]]:
    """Differences in what identifies the stack: suite, host keys, per-target engine/weights."""

    def flat(fp: dict) -> dict[str, Any]:
        out = {f"suite.{k}": v for k, v in fp["suite"].items()}
        out.update({f"host.{k}": v for k, v in fp["host"].items() if k != "hostname"})
        for target, sections in fp["targets"].items():
            for section, facts in sections.items():
                if isinstance(facts, dict):
                    out.update(
                        {
                            f"{target}.{section}.{k}": v
                            for k, v in facts.items()
                            if k not in ("endpoint", "path")
                        }
                    )
        return out

    fa, fb = flat(a["fingerprint"]), flat(b["fingerprint"])
    return [
        {"key": k, "before": fa.get(k), "after": fb.get(k)}
        for k in sorted(fa.keys() | fb.keys())
        if fa.get(k) != fb.get(k)
    ]


def diff(a: dict[str, Any], b: dict[str, Any], tolerance: float = 0.05) -> RunDiff:
    """Compare summaries `a` (before) and `b` (after); `tolerance` is a fraction (0.05 = 5%)."""
    return RunDiff(
        _outcomes(a, b),
        _perf(a, b, tolerance),
        _fingerprint(a, b),
        _measurements(a, b, tolerance),
        _scores(a, b),
    )


def as_text(result: RunDiff, a: dict, b: dict, tolerance: float) -> str:
    """The diff as lines for a terminal."""
    lines = [f"A {a['run_id']}: {a['verdict']}", f"B {b['run_id']}: {b['verdict']}", ""]
    lines.append(f"outcomes that changed ({len(result.outcomes)}):")
    lines += [
        f"  {o['change']:<9} {o['nodeid']}: {o['before']} -> {o['after']}" for o in result.outcomes
    ] or ["  none"]
    lines.append(f"performance beyond {tolerance:.0%} ({len(result.perf)}):")
    lines += [
        f"  {p['change']:<9} {p['measurement']} {p['figure']}: {p['before']} -> {p['after']}"
        + (f" ({p['change_pct']:+.1f}%)" if p["change_pct"] is not None else "")
        for p in result.perf
    ] or ["  none"]
    lines.append(f"measurements beyond {tolerance:.0%} ({len(result.measurements)}):")
    lines += [
        f"  {m['change']:<9} {m['measurement']}: {m['before']} -> {m['after']} {m['unit']}"
        for m in result.measurements
    ] or ["  none"]
    lines.append(f"scores that moved ({len(result.scores)}):")
    lines += [
        f"  {m['change']:<12} {m['score']}: {m['before']:.3f} -> {m['after']:.3f} "
        f"({m['change_points']:+.1f} points, n {m['samples'][0]} / {m['samples'][1]})"
        for m in result.scores
    ] or ["  none"]
    lines.append(f"fingerprint differences ({len(result.fingerprint)}):")
    lines += [f"  {f['key']}: {f['before']} -> {f['after']}" for f in result.fingerprint] or [
        "  none"
    ]
    return "\n".join(lines)
