"""Accuracy: each task of the catalog scored with lm-eval in every graph mode of the profile,
held to its baseline, and every mode held to eager's score.

The scores are model quality, so they are held to the baselines of the model actually
served (`stack.expected`: a stand-in on the twin). Each mode is scored once, during its
one bring-up (fixtures/graph_modes.py). A task without a baseline is measured and ends
NO FLOOR (the run is INCOMPLETE, never a silent pass); a scorer that fails (lm-eval
raising, the worker dying) fails the check in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deploy_helpers.catalog.schema import AccuracyTask
from deploy_helpers.client.accuracy import TaskScore
from deploy_helpers.client.mode_workload import ModeRun
from deploy_helpers.serve.stack import Stack

REFERENCE = "eager"


@dataclass(frozen=True)
class AccuracyCase:
    """A task in a graph mode (task None: the catalog gives the target no task)."""

    mode: str
    task: AccuracyTask | None

    @property
    def id(self) -> str:
        """Test id: mode and task."""
        return f"{self.mode}-{self.task.task if self.task else 'no-task'}"


def _modes(stack: Stack) -> list[str]:
    """The modes scored: every mode of the profile, or with --endpoint the one it serves."""
    if stack.options.endpoint:
        return [m for m in stack.modes_main_last() if stack.in_mode(m).serves_like(stack)]
    return stack.modes_main_last()


def scored_cases(stack: Stack) -> list[AccuracyCase]:
    """Every (mode, task) of the target; one task-less case per mode when it has none."""
    tasks = stack.expected.deployment.accuracy or [None]
    return [AccuracyCase(mode, task) for mode in _modes(stack) for task in tasks]


def compared_cases(stack: Stack) -> list[AccuracyCase]:
    """Every (mode, task) compared with eager's score."""
    return [
        AccuracyCase(mode, task)
        for mode in stack.modes_main_last()
        if mode != REFERENCE
        for task in stack.expected.deployment.accuracy
    ]


def score_of(run: ModeRun, task: AccuracyTask) -> TaskScore:
    """The mode's score of `task`; the check fails when the mode or its scorer failed."""
    assert run.error is None, f"{run.mode}: the service did not come up: {run.error}"
    score = run.scores.get(task.task)
    assert score is not None, f"{run.mode}: {task.task} was not scored"
    assert score.value is not None, f"{run.mode}: {task.task} could not be scored: {score.error}"
    return score


def _record(record_measurement, mode: str, task: AccuracyTask, score: TaskScore, **more) -> None:
    record_measurement(
        f"accuracy_{task.task}_{mode}",
        round(score.value, 4),
        "score",
        better="higher",
        kind="accuracy",
        task=task.task,
        mode=mode,
        metric=task.metric,
        samples=score.samples,
        interval=[round(x, 4) for x in score.interval] if score.interval else None,
        chance=task.chance,
        wall_s=score.wall_s,
        **more,
    )


@pytest.mark.graph_mode_on_endpoint
@pytest.mark.per_target("case", scored_cases)
def test_accuracy_meets_baseline(
    graph_mode_run, stack: Stack, case: AccuracyCase, record_measurement, no_floor
) -> None:
    served = stack.expected
    if case.task is None:
        no_floor(
            f"catalog: {served.id} declares no accuracy task: set deployments[].accuracy "
            f"in models/{served.model.name}.yaml"
        )
    task, mode = case.task, case.mode
    score = score_of(graph_mode_run(mode), task)
    baseline = task.baseline_for(mode)
    if baseline is None:
        _record(record_measurement, mode, task, score)
        no_floor(
            f"{mode}: {score.shown()}; catalog: {served.id} gives {task.task} no baseline "
            f"(deployments[].accuracy[].baseline in models/{served.model.name}.yaml)"
        )
    _record(
        record_measurement,
        mode,
        task,
        score,
        baseline=baseline.baseline,
        floor=round(baseline.floor, 4),
        threshold=baseline.tolerance,
        source=baseline.source,
    )
    print(
        f"{stack.id} {mode}: {score.shown()}, floor {baseline.floor:.2f}, chance {task.chance:.2f}"
    )
    assert score.value >= baseline.floor, (
        f"{mode}: {score.shown()} is below its floor {baseline.floor:.2f} (baseline "
        f"{baseline.baseline:.2f} - {baseline.tolerance}; {baseline.source}); chance is "
        f"{task.chance:.2f}; answers: {score.answers()}"
    )


@pytest.mark.per_target("case", compared_cases)
def test_accuracy_mode_matches_eager(
    graph_mode_run, stack: Stack, case: AccuracyCase, record_measurement, no_floor
) -> None:
    task, mode = case.task, case.mode
    assert REFERENCE in stack.modes, (
        f"catalog: {stack.target.hardware.name} lists no '{REFERENCE}' graph mode to compare with"
    )
    reference = graph_mode_run(REFERENCE)
    assert reference.error is None, f"the {REFERENCE} reference did not come up: {reference.error}"
    eager = score_of(reference, task)
    score = score_of(graph_mode_run(mode), task)
    gap = round(100 * (eager.value - score.value), 1)
    record_measurement(
        f"accuracy_gap_{task.task}_{mode}_to_{REFERENCE}",
        gap,
        "points",
        better="lower",
        task=task.task,
        mode=mode,
        score=round(score.value, 4),
        reference_score=round(eager.value, 4),
    )
    if task.threshold_points is None and task.rtol is None:
        no_floor(
            f"{mode}: {score.shown()}, {REFERENCE} {eager.value:.2f}; catalog: {task.task} "
            "sets no threshold_points or rtol to compare the modes by"
        )
    tolerance = (
        f"{task.threshold_points:g} points"
        if task.threshold_points is not None
        else f"rtol {task.rtol:g}"
    )
    assert not task.below(score.value, eager.value), (
        f"{mode}: {score.shown()} is {gap:g} points below {REFERENCE}'s {eager.value:.2f} "
        f"(threshold {tolerance}); {mode} answered: {score.answers()}; {REFERENCE} answered: "
        f"{eager.answers()}"
    )
