"""Host checks: each node of the target against its profile, one test per declared check.

The checks and their thresholds come from the catalog (deploy_helpers/host/checks.py):
an NPU profile gets driver, firmware, chip, count, health, kernel and device checks, a
two-node profile the NIC and hccn_tool checks, every profile disk and memory.
"""

from __future__ import annotations

import pytest

from deploy_helpers.host.checks import declared_checks
from deploy_helpers.host.stage import HostReport
from deploy_helpers.serve.stack import Stack


def _check_names(stack: Stack) -> list[str]:
    return [check.name for check in declared_checks(stack)]


@pytest.mark.per_target("check", _check_names)
def test_host_check(check: str, host_report: HostReport) -> None:
    failed = [r.message for r in host_report.results[check] if not r.ok]
    if failed:
        pytest.fail("\n".join(failed), pytrace=False)
