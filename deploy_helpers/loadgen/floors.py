"""Compare a load-generator result with catalog floors and with an earlier baseline."""

from __future__ import annotations

from typing import Any

from deploy_helpers.catalog.schema import Floors, PerfFloor
from deploy_helpers.host.cpu import best_at_most

BASELINE_RATIO = 0.97  # vllm-ascend nightly: output throughput >= 0.97 x baseline


def invalid_reason(result: dict[str, Any]) -> str | None:
    """Why the result cannot be judged (client lag, failed requests, usage), or None."""
    problems = []
    if not result["self_check"]["valid"]:
        problems += result["self_check"]["reasons"]
    if result["errors"]["count"]:
        problems.append(
            f"{result['errors']['count']} requests failed, e.g. {result['errors']['examples'][0]}"
        )
    if result["usage_check"]["mismatches"]:
        problems.append(
            f"{result['usage_check']['mismatches']} replies disagree with the "
            f"requested lengths, e.g. {result['usage_check']['examples'][0]}"
        )
    return "; ".join(problems) or None


def floors_for(shape: PerfFloor, isa: str | None) -> tuple[Floors | None, str]:
    """The floors that hold the shape on a node of ISA class `isa`, and where they come
    from; None (with why) when there is none to hold it to."""
    if not shape.by_isa:
        return (shape if shape.any else None), "catalog floors"
    if isa is None:
        return None, "the serving node's CPU ISA class is unknown"
    chosen = best_at_most(isa, list(shape.by_isa))
    if chosen is None:
        return None, (
            f"no floor for CPU ISA class {isa} (the catalog has floors for "
            f"{', '.join(sorted(shape.by_isa))})"
        )
    return shape.by_isa[chosen], f"floors of ISA class {chosen} (the node is {isa})"


def floor_breaches(result: dict[str, Any], floor: Floors) -> list[str]:
    """Each floor the result misses, as 'measured vs floor'."""
    breaches = []
    if floor.min_output_tok_s is not None and result["output_throughput"] < floor.min_output_tok_s:
        breaches.append(
            f"output throughput {result['output_throughput']:.1f} tok/s < floor "
            f"{floor.min_output_tok_s:g} tok/s"
        )
    checks = (
        ("TTFT", "ttft_ms", floor.max_ttft_p99_ms),
        ("TPOT", "tpot_ms", floor.max_tpot_p99_ms),
    )
    for label, key, limit in checks:
        measured = result[key]["p99"]
        if limit is not None and measured is not None and measured > limit:
            breaches.append(f"{label} p99 {measured:.1f} ms > floor {limit:g} ms")
    return breaches


def baseline_breaches(
    result: dict[str, Any], baseline: dict[str, Any], ratio: float = BASELINE_RATIO
) -> list[str]:
    """Output throughput below `ratio` x the baseline's (a perf result of the report's
    format), as 'measured vs baseline'."""
    before = baseline["output_tok_s"]
    now = result["output_throughput"]
    if now < ratio * before:
        return [
            f"output throughput {now:.1f} tok/s < {ratio:g} x baseline {before:.1f} tok/s "
            f"({now / before:.1%} of baseline)"
        ]
    return []
