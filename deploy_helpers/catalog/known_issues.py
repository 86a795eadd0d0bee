"""Known issues of the catalog: which tests they match, which failures they cover, expiry.

A known issue (`KnownIssue`) names a test pattern (`check`), the failure it covers
(`failure`, a regex on the failure message) and a reason. Kind `xfail` is a limitation of
the model (it must fail, and fail that way); kind `waiver` is an engine defect with an
expiry: while live, a matching failure counts as *waived*; once expired, it counts as a
failure naming the waiver. A known issue never covers a failure of the stack itself —
setup errors, refused connections, timeouts, a dead service — nor a failure whose message
its pattern does not match: those fail as themselves.

One module for the selection hook, the report and the suites alike.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from typing import Any

from deploy_helpers.catalog.schema import KnownIssue

# failure messages of the stack, not of the check: never covered by a known issue
INFRASTRUCTURE = re.compile(
    r"(?i)connection ?(refused|reset|error|aborted)|connecterror|remoteprotocolerror"
    r"|timed? ?out|timeout|readerror|service (died|stopped|is dead)|not run: the service"
    r"|apiconnectionerror|server disconnected|broken pipe"
)


def matching(issues: list[KnownIssue], name: str, function: str) -> list[KnownIssue]:
    """The issues whose `check` matches a test: its function name (`test_seed_*`) or its
    full parametrized name (`test_pass_rate*parallel*`)."""
    return [
        i for i in issues if fnmatch.fnmatch(function, i.check) or fnmatch.fnmatch(name, i.check)
    ]


def infrastructure_failure(message: str) -> bool:
    """Whether a failure message is the stack failing (connection, timeout, dead service)."""
    return bool(INFRASTRUCTURE.search(message))


def covers(issue: KnownIssue, when: str, message: str) -> bool:
    """Whether `issue` covers a failure in phase `when` with `message`: only a failing
    check (never setup or teardown), never the stack's own failure, and only the failure
    its pattern names."""
    return (
        when == "call"
        and not infrastructure_failure(message)
        and re.search(issue.failure, message) is not None
    )


def status(issue: KnownIssue, today: dt.date) -> str:
    """'live' until (and on) its expiry date, 'expired' after."""
    return "live" if issue.expires is not None and issue.expires >= today else "expired"


def describe(issue: KnownIssue, target: str, today: dt.date) -> dict[str, Any]:
    """A waiver as plain data: target, check, failure, reason, expiry, source and status."""
    return {
        "target": target,
        "check": issue.check,
        "failure": issue.failure,
        "reason": issue.reason,
        "expires": issue.expires.isoformat() if issue.expires else None,
        "source": issue.source,
        "status": status(issue, today),
    }


def usage(waivers: list[dict[str, Any]], results: list[Any]) -> list[dict[str, Any]]:
    """Each waiver with the tests it matched, waived and failed, and a note when stale."""
    out = []
    for waiver in waivers:
        mine = [
            r
            for r in results
            if r.target == waiver["target"] and r.waiver and r.waiver["check"] == waiver["check"]
        ]
        waived = [r.nodeid for r in mine if r.outcome == "waived"]
        failed = [r.nodeid for r in mine if r.outcome in ("failed", "error")]
        if not mine:
            note = "matched no test in this run: stale, or its checks were not selected"
        elif not waived and not failed:
            note = "its checks passed: the waiver is no longer needed"
        elif waiver["status"] == "expired" and failed:
            note = f"expired {waiver['expires']}: its failing checks count as failures"
        elif failed:
            note = (
                f"{len(failed)} matching check(s) failed for another cause than "
                f"/{waiver['failure']}/: they count as failures"
            )
        else:
            note = ""
        out.append(
            {
                **waiver,
                "matched": [r.nodeid for r in mine],
                "waived": waived,
                "failed": failed,
                "note": note,
            }
        )
    return out
