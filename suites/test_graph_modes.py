"""Graph modes: every mode the catalog lists for the target comes up, proves it in the log,
answers greedily exactly like eager, and has its TPOT reported as a ratio to eager's.

A2: ACLGraph (default), eager, TorchAir for DeepSeek only; 300I Duo: what vllm-mindspore
allows; CPU: compiled (torch.compile, default) against --enforce-eager. Each mode is one
real bring-up per session (fixtures/graph_modes.py), stopped before the next one starts.
"""

from __future__ import annotations

import math
import re

import pytest

from deploy_helpers.client.mode_workload import first_divergence
from deploy_helpers.serve.stack import Stack

REFERENCE = "eager"
MODE_HINT = re.compile(r"(?i)eager|graph|compil")


def mode_lines(log: str, most: int = 3) -> list[str]:
    """Lines of a server log that mention a graph or eager mode, to pick evidence from."""
    return [line.strip()[:160] for line in log.splitlines() if MODE_HINT.search(line)][:most]


def compared_modes(stack: Stack) -> list[str]:
    """The modes qualified against eager."""
    return [m for m in stack.modes_main_last() if m != REFERENCE]


def reference_run(graph_mode_run, stack: Stack):
    """Eager's run, which the other modes are compared with."""
    assert REFERENCE in stack.modes, (
        f"catalog: {stack.target.hardware.name} lists no '{REFERENCE}' graph mode to compare with"
    )
    run = graph_mode_run(REFERENCE)
    assert run.error is None, f"the {REFERENCE} reference did not come up: {run.error}"
    return run


@pytest.mark.per_target("mode", Stack.modes_main_last)
def test_graph_mode_comes_up_with_log_evidence(graph_mode_run, stack: Stack, mode: str) -> None:
    run = graph_mode_run(mode)
    assert run.error is None, f"{mode}: the service did not come up: {run.error}"
    assert run.answers and all(a.text for a in run.answers), (
        f"{mode}: the service came up but gave empty greedy answers: {run.answers}"
    )
    hardware = stack.target.hardware
    spec = next(m for m in hardware.graph_modes if m.name == mode)
    assert spec.log_evidence, (
        f"catalog: {hardware.name} graph mode '{mode}' declares no log_evidence: set "
        f"graph_modes[].log_evidence in hardware/{hardware.name}.yaml to a regex of the "
        f"line that proves the mode; this log's candidates: {mode_lines(run.log)}"
    )
    assert re.search(spec.log_evidence, run.log), (
        f"{mode}: the server log shows no evidence of the mode (regex "
        f"{spec.log_evidence!r} not found in {len(run.log.splitlines())} log lines)"
    )


@pytest.mark.per_target("mode", compared_modes)
def test_graph_mode_greedy_matches_eager(graph_mode_run, stack: Stack, mode: str) -> None:
    eager = reference_run(graph_mode_run, stack)
    run = graph_mode_run(mode)
    assert run.error is None, f"{mode}: the service did not come up: {run.error}"
    diverging = [
        f"  prompt {a.prompt!r}: {first_divergence(a, b)}\n"
        f"    {mode}: {a.text!r}\n    {REFERENCE}: {b.text!r}"
        for a, b in zip(run.answers, eager.answers, strict=True)
        if a.tokens != b.tokens or a.text != b.text
    ]
    assert not diverging, (
        f"{mode}: greedy output differs from {REFERENCE} for {len(diverging)} of "
        f"{len(run.answers)} prompts:\n" + "\n".join(diverging)
    )


@pytest.mark.per_target("mode", compared_modes)
def test_graph_mode_tpot_ratio_to_eager(
    graph_mode_run, stack: Stack, mode: str, record_measurement
) -> None:
    eager = reference_run(graph_mode_run, stack)
    run = graph_mode_run(mode)
    assert run.error is None, f"{mode}: the service did not come up: {run.error}"
    assert run.tpot_s and eager.tpot_s, (
        f"{mode}: TPOT not measured ({mode}: {run.tpot_error or run.tpot_s}, {REFERENCE}: "
        f"{eager.tpot_error or eager.tpot_s})"
    )
    ratio = run.tpot_s / eager.tpot_s
    assert math.isfinite(ratio) and ratio > 0, f"{mode}: TPOT ratio {ratio} is not a number"
    record_measurement(
        f"tpot_ratio_{mode}_to_{REFERENCE}",
        round(ratio, 3),
        "ratio",
        better="lower",
        tpot_ms=round(run.tpot_s * 1e3, 1),
        reference_tpot_ms=round(eager.tpot_s * 1e3, 1),
    )
    print(
        f"{stack.id} {mode}: TPOT {run.tpot_s * 1e3:.1f} ms, {REFERENCE} "
        f"{eager.tpot_s * 1e3:.1f} ms, ratio {ratio:.2f}"
    )
