"""The sign-off verdict of a run and the exit code that follows it.

PASS: every check passed or behaved as a catalog-declared limitation (strict xfail).
PASS WITH WAIVERS: as PASS, except checks that failed under a live catalog waiver.
INCOMPLETE: nothing failed, but some measurement has no floor to be judged by yet (the
catalog sets none and no baseline was given): the run cannot sign the deployment off,
and it did not find it faulty either.
FAIL: any check failed or errored (including failures whose waiver expired), could not run
(its service died or hung, or its stage failed: one reason per cause), no check ran, the
run was interrupted, or the report found a problem (e.g. an invalid perf file).

A run on the Ascend twin gets the same verdict prefixed SIMULATED ("SIMULATED PASS" ...):
it qualified the suite against simulated hosts and a stand-in model, and cannot be taken
for the sign-off of a deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploy_helpers.report.results import TestResult

PASS, PASS_WITH_WAIVERS, INCOMPLETE, FAIL = "PASS", "PASS WITH WAIVERS", "INCOMPLETE", "FAIL"
VERDICTS = (PASS, PASS_WITH_WAIVERS, INCOMPLETE, FAIL)
INCOMPLETE_EXIT = 6  # not a pytest code: nothing failed, but the run cannot sign off
SIMULATED = "SIMULATED "
# pytest's own exit codes that say more than a verdict can; they are kept as they are
INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_TESTS = 2, 3, 4, 5


@dataclass(frozen=True)
class Verdict:
    """The verdict and the reasons behind it, worst first."""

    verdict: str
    reasons: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"verdict": self.verdict, "reasons": self.reasons}


def decide(
    results: list[TestResult],
    waivers: list[dict[str, Any]],
    problems: list[str],
    pytest_status: int = 0,
) -> Verdict:
    """The verdict from test results, waiver usage, report problems and pytest's status."""
    reasons: list[str] = []
    failing = [r for r in results if r.outcome in ("failed", "error")]
    for result in failing:
        reasons.append(f"{result.outcome}: {result.nodeid}: {result.message}")
    not_run: dict[str, int] = {}
    for result in results:
        if result.outcome == "not_run":
            not_run[result.message] = not_run.get(result.message, 0) + 1
    reasons.extend(
        f"not run: {n} test(s): {cause.removeprefix('not run: ')}" for cause, n in not_run.items()
    )
    for waiver in waivers:
        if waiver["status"] == "expired" and waiver["failed"]:
            reasons.append(
                f"expired waiver {waiver['target']} '{waiver['check']}' "
                f"(expired {waiver['expires']}) no longer covers {len(waiver['failed'])} "
                "failing check(s)"
            )
    reasons.extend(f"report problem: {p}" for p in problems)
    if pytest_status == INTERRUPTED:
        reasons.append("the run was interrupted")
    elif pytest_status == INTERNAL_ERROR:
        reasons.append("pytest hit an internal error")
    if not results:
        reasons.append("no check ran")
    if reasons:
        return Verdict(FAIL, reasons)
    unjudged = [r for r in results if r.outcome == "no_floor"]
    if unjudged:
        return Verdict(INCOMPLETE, [f"no floor: {r.nodeid}: {r.message}" for r in unjudged])
    waived = [r for r in results if r.outcome == "waived"]
    if waived:
        return Verdict(PASS_WITH_WAIVERS, [f"waived: {r.nodeid}: {r.message}" for r in waived])
    return Verdict(PASS, [])


def simulated(verdict: Verdict, about: dict[str, Any]) -> Verdict:
    """The verdict of a twin run: SIMULATED before it, what was simulated after its reasons."""
    what = (
        f"simulated: {about.get('profile')} twin, scenario {about.get('scenario')}, "
        f"model served {about.get('stand_in')}"
    )
    return Verdict(SIMULATED + verdict.verdict, [*verdict.reasons, what])


def exit_code(verdict: Verdict, pytest_status: int) -> int:
    """0 for PASS and PASS WITH WAIVERS, 1 for FAIL, 6 for INCOMPLETE (SIMULATED or not);
    pytest's codes 2-5 are kept."""
    if pytest_status in (INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_TESTS):
        return pytest_status
    return {FAIL: 1, INCOMPLETE: INCOMPLETE_EXIT}.get(verdict.verdict.removeprefix(SIMULATED), 0)
