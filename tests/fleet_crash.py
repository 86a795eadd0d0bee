"""A pytest plugin that kills its own pytest with SIGKILL at the first test call: a unit
whose suite crashes mid-run, after its stack came up (`-p tests.fleet_crash`)."""

from __future__ import annotations

import os
import signal

import pytest


def pytest_runtest_call(item: pytest.Item) -> None:
    """Die at once, as the OOM killer would: no teardown, no report."""
    os.kill(os.getpid(), signal.SIGKILL)
