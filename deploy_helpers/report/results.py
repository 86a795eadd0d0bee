"""Test outcomes of a run, folded from the setup/call/teardown phases pytest reports.

Outcomes: passed, failed (the check failed), error (its stage failed in setup or
teardown), skipped, xfailed (a catalog-declared limitation behaved as declared),
xpassed (a non-strict expected failure passed), waived (failed under a live waiver),
no_floor (measured, but the catalog holds it to no floor yet: the run is incomplete),
not_run (it could not run: the service it needs died or hung, or its stage failed at an
earlier test; its message is that cause).

A test records a measurement as the user property `measurement:<name>` (a JSON object
with at least `name`, `value` and `unit`; fixtures/report.py `record_measurement`); every
measurement reaches the test's result, summary.json, report.html and junit.xml.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = (
    "passed",
    "failed",
    "error",
    "skipped",
    "xfailed",
    "xpassed",
    "waived",
    "no_floor",
    "not_run",
)
MEASUREMENT = "measurement:"  # user property prefix of a recorded measurement
NO_FLOOR = "no_floor"  # value of the `outcome` user property of a check that has no floor
NOT_RUN = "not_run"  # value of the `outcome` user property of a test that could not run
SERVICE_FAULT = "service_fault"  # user property: the watchdog's Fault (JSON) behind an outcome
FAILING = ("failed", "error")
DETAILS_LIMIT = 8000  # characters of a failure's full text kept in summary.json


@dataclass
class Phase:
    """One phase report, reduced to plain data (also what crosses from xdist workers)."""

    nodeid: str
    when: str
    outcome: str
    duration_s: float
    message: str = ""
    details: str = ""
    wasxfail: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class TestResult:
    """The outcome of one test over all its phases, with its cause when it did not pass."""

    nodeid: str
    suite: str
    name: str
    target: str | None
    outcome: str
    duration_s: float
    message: str = ""
    details: str = ""
    waiver: dict[str, Any] | None = None
    limitation: str | None = None
    measurements: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def cause_line(message: str) -> str:
    """The first meaningful line of a failure message, without the exception class prefix."""
    for line in message.strip().splitlines():
        line = line.strip()
        if line:
            for prefix in ("AssertionError: ", "Failed: ", "Skipped: ", "E   "):
                line = line.removeprefix(prefix)
            return line
    return ""


def fold(phases: list[Phase]) -> TestResult:
    """The result of one test from its phases (in the order they ran)."""
    props = {k: v for p in phases for k, v in p.properties.items()}
    target = props.get("target")
    nodeid = phases[0].nodeid
    waiver = json.loads(props["waiver"]) if "waiver" in props else None
    outcome, message, details, failure = "passed", "", "", ""
    for phase in phases:
        if phase.outcome == "failed":
            outcome = "failed" if phase.when == "call" else "error"
            message, details = phase.message, phase.details
            break
        if phase.outcome == "skipped":
            if phase.wasxfail is not None:
                outcome = "waived" if "waived" in props else "xfailed"
                message, details, failure = phase.wasxfail, phase.details, phase.message
            elif props.get("outcome") in (NO_FLOOR, NOT_RUN):
                outcome, message = props["outcome"], phase.message
            else:
                outcome, message = "skipped", phase.message
            break
        if phase.when == "call" and phase.wasxfail is not None:
            outcome, message = "xpassed", phase.wasxfail
    if outcome == "waived":
        message = f"{props['waived']}; it failed: {cause_line(failure)}"
    if outcome == "failed" and waiver and waiver.get("status") == "expired":
        message = (
            f"waiver '{waiver['check']}' expired {waiver['expires']} "
            f"({waiver['reason']}): {cause_line(message)}"
        )
    file, _, rest = nodeid.partition("::")
    measurements = [json.loads(v) for k, v in props.items() if k.startswith(MEASUREMENT)]
    return TestResult(
        nodeid=nodeid,
        suite=file,
        name=rest,
        target=target,
        outcome=outcome,
        duration_s=round(sum(p.duration_s for p in phases), 3),
        message=cause_line(message) if outcome != "passed" else "",
        details=details[:DETAILS_LIMIT],
        waiver=waiver,
        limitation=props.get("limitation"),
        measurements=measurements,
    )


def counts(results: list[TestResult]) -> dict[str, int]:
    """How many tests had each outcome (every outcome present, zero or not)."""
    tally = dict.fromkeys(OUTCOMES, 0)
    for result in results:
        tally[result.outcome] += 1
    return tally
