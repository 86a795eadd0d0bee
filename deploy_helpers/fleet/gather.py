"""What became of each unit: its fetched run folders unpacked and read, and Ansible's events.

A unit's outcome, worst first: unreachable; no suite (or not the controller's version) on
it; a stage whose suite never reported (crashed, killed, timed out before summary.json);
a stage that failed (its suite refused its input with a usage error, exited non-zero, or
its verdict is neither PASS nor PASS WITH WAIVERS); not run (the run
stopped before its serving stage); else the worst verdict of its two stages.
"""

from __future__ import annotations

import signal
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy_helpers.errors import SuiteError
from deploy_helpers.fleet import events as ev
from deploy_helpers.fleet.command import STAGES
from deploy_helpers.fleet.inventory import Unit
from deploy_helpers.report import summary as run_summary
from deploy_helpers.report.verdict import FAIL, PASS, PASS_WITH_WAIVERS

UNITS_DIR = "units"
UNREACHABLE, NO_SUITE, VERSION_MISMATCH = "unreachable", "no suite", "suite version mismatch"
NEVER_REPORTED, FAILED, NOT_RUN = "never reported", "failed", "not run"
TIMEOUT_RC = 124  # coreutils `timeout`: the stage ran out of time
USAGE_RC = 4  # pytest's usage error: the suite refused its input before any bring-up


@dataclass
class StageResult:
    """One stage (preflight or serve) of a unit."""

    stage: str
    state: str  # passed, failed, never reported, not run
    verdict: str | None = None
    exit_code: int | None = None
    duration_s: float = 0.0
    run_dir: str | None = None  # relative to the fleet folder
    reasons: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    summary: dict[str, Any] | None = None


@dataclass
class UnitResult:
    """A unit's outcome: its verdict, why it failed, each stage, and the time it took."""

    unit: Unit
    verdict: str
    failure: str | None
    reasons: list[str]
    stages: dict[str, StageResult]
    duration_s: float


def exit_text(rc: int | None) -> str:
    """An exit code as words: signals (negative, or 128+N from `timeout`) named."""
    if rc is None:
        return "with no exit code"
    if rc == TIMEOUT_RC:
        return "124 (out of time: suite_timeout_s)"
    number = -rc if rc < 0 else rc - 128 if rc > 128 else None
    if number:
        try:
            return f"{rc} (killed by {signal.Signals(number).name})"
        except ValueError:
            pass
    return str(rc)


def unpack(fleet_dir: Path, unit: str, stage: str) -> Path | None:
    """Unpack units/<unit>/<stage>.tar.gz beside itself; the stage's folder, if it came back."""
    archive = fleet_dir / UNITS_DIR / unit / f"{stage}.tar.gz"
    if not archive.exists():
        return None
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(archive.parent, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SuiteError(f"{archive}: cannot unpack ({exc})") from None
    archive.unlink()
    folder = archive.parent / stage
    return folder if folder.is_dir() else None


def run_folder(stage_dir: Path | None) -> Path | None:
    """The one run folder a stage's suite wrote (its reports-dir holds it and `latest`)."""
    if stage_dir is None:
        return None
    runs = [p for p in stage_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    return runs[0] if len(runs) == 1 else None


def _tail(event: ev.TaskEvent) -> str:
    lines = [line.strip() for line in event.stderr_tail + event.stdout_tail if line.strip()]
    return lines[-1] if lines else ""


def stage_result(fleet_dir: Path, unit: Unit, stage: str, events: ev.Events) -> StageResult:
    """Read one stage of a unit: Ansible's suite task and the run folder it fetched."""
    suite = events.of(unit.name, stage, ev.SUITE_TASK)
    if not suite:
        return StageResult(stage, NOT_RUN)
    task = suite[-1]
    leftovers = [
        line
        for e in events.of(unit.name, stage, ev.LEFTOVERS_TASK)
        for line in e.stdout_tail
        if line.strip()
    ]
    result = StageResult(
        stage, FAILED, exit_code=task.rc, duration_s=round(task.duration_s, 1), leftovers=leftovers
    )
    if task.status == "unreachable":
        result.state, result.reasons = (
            NEVER_REPORTED,
            [f"{UNREACHABLE} during the {stage} suite: {clean(task.msg)}"],
        )
        return result
    folder = run_folder(unpack(fleet_dir, unit.name, stage))
    summary = None
    if folder is not None and (folder / run_summary.SUMMARY_FILE).exists():
        try:
            summary = run_summary.load(folder)
        except SuiteError as exc:
            result.reasons = [f"its report is unreadable: {exc}"]
    if summary is None and task.rc == USAGE_RC and _tail(task):
        result.reasons = [f"the {stage} suite refused its input: {_tail(task)}"]
        return result
    if summary is None:
        said = _tail(task)
        result.state = NEVER_REPORTED
        result.reasons = result.reasons or [
            f"the {stage} suite exited {exit_text(task.rc)} without writing its report"
            + (f": {said}" if said else "")
        ]
        result.run_dir = str(folder.relative_to(fleet_dir)) if folder else None
        return result
    result.summary = summary
    result.verdict = summary["verdict"]
    result.run_dir = str(folder.relative_to(fleet_dir))
    result.reasons = list(summary["verdict_reasons"])
    if task.rc == 0 and summary["verdict"] in (PASS, PASS_WITH_WAIVERS):
        result.state = "passed"
    elif not result.reasons:
        result.reasons = [
            f"the {stage} suite exited {exit_text(task.rc)} with verdict {summary['verdict']}"
        ]
    if leftovers:
        result.reasons.append("left running after the suite, stopped: " + "; ".join(leftovers))
        if result.state == "passed":  # a suite that passed must have torn its stack down
            result.state = FAILED
    return result


def clean(msg: str) -> str:
    """An Ansible message without its 'Task failed: ' prefixes, on one line."""
    text = " ".join(msg.split())
    while text.startswith("Task failed: "):
        text = text.removeprefix("Task failed: ")
    return text


def _precondition(unit: Unit, events: ev.Events) -> tuple[str, str] | None:
    """Why the unit could not run the suite at all, if so: (failure, cause)."""
    for event in events.of(unit.name):
        if event.status == "unreachable" and event.task != ev.SUITE_TASK:
            return UNREACHABLE, clean(event.msg)
    for task, failure in (
        (ev.REACHABLE, UNREACHABLE),
        (ev.SUITE_PRESENT, NO_SUITE),
        (ev.VERSION_MATCHES, VERSION_MISMATCH),
    ):
        failed = [e for e in events.of(unit.name, ev.PREFLIGHT, task) if e.status == "failed"]
        if failed:
            return failure, clean(failed[-1].msg)
    return None


def stop_reason(events: ev.Events, max_fail_percentage: int | None) -> str:
    """Why Ansible stopped before every unit had run, from the batch it stopped in."""
    if not events.stopped:
        return "Ansible ended before this unit's turn (see ansible.log)"
    play, at = events.stopped[0]
    batch: list[str] = []
    for name, first, hosts in events.batch_hosts():
        if name == play and first <= at:
            batch = hosts
    failed = sorted(
        {
            e.host
            for e in events.tasks[:at]
            if e.play == play and e.host in batch and e.status in ("failed", "unreachable")
        }
    )
    share = 100 * len(failed) / len(batch) if batch else 0
    names = ", ".join(failed) or "none"
    if max_fail_percentage is not None and share > max_fail_percentage:
        return (
            f"the run stopped early in the {play} play: {len(failed)} of {len(batch)} "
            f"units of its batch failed ({names}), over max_fail_percentage "
            f"{max_fail_percentage}"
        )
    return (
        f"the run stopped early in the {play} play: every unit of its batch failed "
        f"({names}), and Ansible ends a serial play then"
    )


def unit_result(
    fleet_dir: Path, unit: Unit, events: ev.Events, max_fail_percentage: int | None
) -> UnitResult:
    """The outcome of one unit."""
    stages = {stage: stage_result(fleet_dir, unit, stage, events) for stage in STAGES}
    duration = round(sum(e.duration_s for e in events.of(unit.name)), 1)

    def result(verdict: str, failure: str | None, reasons: list[str]) -> UnitResult:
        return UnitResult(unit, verdict, failure, reasons, stages, duration)

    blocked = _precondition(unit, events)
    if blocked:
        return result(FAIL, blocked[0], [blocked[1]])
    for stage in stages.values():
        if stage.state in (NEVER_REPORTED, FAILED):
            failure = NEVER_REPORTED if stage.state == NEVER_REPORTED else f"{stage.stage} failed"
            return result(FAIL, failure, stage.reasons)
    not_run = [s.stage for s in stages.values() if s.state == NOT_RUN]
    if not_run:
        return result(
            FAIL,
            NOT_RUN,
            [f"{' and '.join(not_run)} not run: " + stop_reason(events, max_fail_percentage)],
        )
    waived = [r for s in stages.values() if s.verdict == PASS_WITH_WAIVERS for r in s.reasons]
    return result(PASS_WITH_WAIVERS if waived else PASS, None, waived)


def gather(
    fleet_dir: Path, units: list[Unit], events: ev.Events, max_fail_percentage: int | None
) -> list[UnitResult]:
    """Every unit's outcome, in inventory order."""
    return [unit_result(fleet_dir, unit, events, max_fail_percentage) for unit in units]
