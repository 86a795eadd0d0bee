"""Weights: checksums, shards, dtype, quantization and chat template, per catalog target.

One test per check that applies to the target (`checks_for` reads the catalog). They need
the local weights directory; with `--endpoint` and no `--weights-root` they are
deselected at collection and reported as not applicable (fixtures/weights.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_helpers.errors import SuiteError
from deploy_helpers.serve.stack import Stack
from deploy_helpers.weights.checks import Settings, checks_for, run_check

pytestmark = pytest.mark.local_weights


@pytest.mark.per_target("check", lambda s: checks_for(s.target, s.expected))
def test_weights_check(stack: Stack, check: str, weights_dir: Path,
                       weights_settings: Settings) -> None:
    try:
        result = run_check(check, stack.target, weights_dir, weights_settings, stack.expected)
    except SuiteError as exc:
        pytest.fail(f"{check}: {exc}", pytrace=False)
    assert result.ok, result.message()
