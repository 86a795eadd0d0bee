"""Catalog waivers: which are live or expired, and what each did in a run.

A waiver (`KnownIssue` of kind `waiver`) names a check pattern, a reason and an expiry.
While live, a matching check that fails counts as *waived*; once expired, the failure
counts as a failure that names the waiver. A waiver that matched no test, or whose tests
all passed, is reported so that the catalog can be cleaned up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from deploy_helpers.catalog.schema import KnownIssue
from deploy_helpers.report.results import TestResult


def status(issue: KnownIssue, today: dt.date) -> str:
    """'live' until (and on) its expiry date, 'expired' after."""
    return "live" if issue.expires is not None and issue.expires >= today else "expired"


def describe(issue: KnownIssue, target: str, today: dt.date) -> dict[str, Any]:
    """A waiver as plain data: target, check, reason, expiry, source and status."""
    return {
        "target": target,
        "check": issue.check,
        "reason": issue.reason,
        "expires": issue.expires.isoformat() if issue.expires else None,
        "source": issue.source,
        "status": status(issue, today),
    }


def usage(waivers: list[dict[str, Any]], results: list[TestResult]) -> list[dict[str, Any]]:
    """Each waiver with the tests it matched, waived and failed, and a note when stale."""
    out = []
    for waiver in waivers:
        mine = [
            r for r in results
            if r.target == waiver["target"] and r.waiver
            and r.waiver["check"] == waiver["check"]
        ]
        waived = [r.nodeid for r in mine if r.outcome == "waived"]
        failed = [r.nodeid for r in mine if r.outcome in ("failed", "error")]
        if not mine:
            note = "matched no test in this run: stale, or its checks were not selected"
        elif not waived and not failed:
            note = "its checks passed: the waiver is no longer needed"
        elif waiver["status"] == "expired" and failed:
            note = f"expired {waiver['expires']}: its failing checks count as failures"
        else:
            note = ""
        out.append({**waiver, "matched": [r.nodeid for r in mine], "waived": waived,
                    "failed": failed, "note": note})
    return out
