"""Function calling on BFCL v4: a sampled subset of each category of bfcl-eval's dataset,
asked through `tools` / `tool_choice` like a real client, judged by bfcl-eval's AST
checker, its pass rate (with a Wilson interval) held to the deployment's baseline.

A category the model answers without a single tool call fails by itself: the deployment
does not call functions (a missing --tool-call-parser, a template that renders no tools).
A category without a baseline is measured and ends NO FLOOR. The hand-written cases of
suites/test_function_calls.py stay as the quick smoke set.
"""

from __future__ import annotations

import openai
import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.bfcl import has_answers, score_category
from deploy_helpers.client.endpoint import Endpoint
from deploy_helpers.serve.stack import Stack


@pytest.mark.per_target("category", lambda stack: stack.expected.deployment.bfcl.categories)
def test_bfcl_pass_rate(
    client: openai.OpenAI,
    service: Endpoint,
    target: Target,
    stack: Stack,
    category: str,
    record_measurement,
    no_floor,
) -> None:
    spec = target.deployment.bfcl
    score = score_category(
        client, service.served_model_name, spec, category, target.model.chat.thinking
    )
    assert score.error is None, f"BFCL {category}: not scored: {score.error}"
    baseline = spec.pass_rate.get(category)
    more = (
        {
            "baseline": baseline.baseline,
            "floor": round(baseline.floor, 4),
            "threshold": baseline.tolerance,
            "source": baseline.source,
        }
        if baseline
        else {}
    )
    record_measurement(
        f"bfcl_pass_rate_{category}",
        round(score.rate, 4),
        "ratio",
        better="higher",
        kind="bfcl",
        task="bfcl",
        mode=stack.graph_mode,
        metric=category,
        samples=score.n,
        passed=score.passed,
        interval=[round(x, 4) for x in score.interval],
        tool_choice=spec.tool_choice,
        wall_s=score.wall_s,
        **more,
    )
    print(f"{stack.id} BFCL {score.shown()}; calls in {score.called}/{score.n} cases")
    failing = "\n".join(score.failures())
    if has_answers(category):
        assert score.called, (
            f"{category}: no tool call in any of {score.n} cases (tool_choice "
            f"{spec.tool_choice!r}; {score.error_types()}): the deployment does not call "
            f"functions; e.g.\n{failing}"
        )
    if baseline is None:
        no_floor(
            f"{score.shown()}; catalog: {target.id} gives BFCL {category} no baseline "
            f"(deployments[].bfcl.pass_rate.{category} in models/{target.model.name}.yaml)"
        )
    assert score.rate >= baseline.floor, (
        f"{score.shown()} is below its floor {baseline.floor:.2f} (baseline "
        f"{baseline.baseline:.2f} - {baseline.tolerance}; {baseline.source}); "
        f"{score.error_types()}; failing cases:\n{failing}"
    )
