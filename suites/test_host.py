"""Host checks: each node of the target against its profile, one test per declared check.

The checks and their thresholds come from the catalog (deploy_helpers/host_checks.py):
an NPU profile gets driver, firmware, chip, count, health, kernel and device checks, a
two-node profile the NIC and hccn_tool checks, every profile disk and memory.
"""

from __future__ import annotations

import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.host.checks import CheckResult, declared_checks


def _check_names(target: Target) -> list[str]:
    return [check.name for check in declared_checks(target)]


@pytest.mark.per_target("check", _check_names)
def test_host_check(
    target: Target, check: str, host_report: dict[str, list[CheckResult]]
) -> None:
    results = host_report[check]
    failed = [r.message for r in results if not r.ok]
    if failed:
        pytest.fail("\n".join(failed), pytrace=False)
