"""Task scores and pass rates of a run (accuracy per task and graph mode, BFCL per
category), as the suites record them: measurements with `kind` accuracy or bfcl."""

from __future__ import annotations

from typing import Any

KINDS = ("accuracy", "bfcl")


def scores_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's score measurements, accuracy first, each by target, task/category, mode."""
    found = [m for m in summary.get("measurements", []) if m.get("kind") in KINDS]
    return sorted(
        found,
        key=lambda m: (
            KINDS.index(m["kind"]),
            m.get("target") or "",
            m.get("task", ""),
            m.get("metric", ""),
            str(m.get("mode")),
        ),
    )


def label(score: dict[str, Any]) -> str:
    """`capitals (eager)` / `BFCL simple_python`: what a score is of, for tables and plots."""
    if score["kind"] == "bfcl":
        return f"BFCL {score.get('metric')}"
    return f"{score.get('task')} ({score.get('mode')})"


def key(score: dict[str, Any]) -> str:
    """What identifies a score across runs: target, kind, task or category, mode."""
    return "|".join(str(score.get(k)) for k in ("target", "kind", "task", "metric", "mode"))
