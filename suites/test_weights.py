"""Weights: checksums, shards, dtype, quantization and chat template, per catalog target.

One test per check that applies to the target (`checks_for` reads the catalog), and on a
multi-node deployment one per other node, whose copy that node hashes itself. They need
the local weights directory; with `--endpoint` and no `--weights-root` they are
deselected at collection and reported as not applicable (fixtures/weights.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_helpers.errors import SuiteError
from deploy_helpers.host.stage import HostReport
from deploy_helpers.serve.stack import Stack
from deploy_helpers.weights.checks import Settings, checks_for, run_check
from deploy_helpers.weights.manifest import MANIFEST_NAME, load_manifest
from deploy_helpers.weights.nodes import node_problems

pytestmark = pytest.mark.local_weights


@pytest.mark.per_target("check", lambda s: checks_for(s.target, s.expected))
def test_weights_check(
    stack: Stack, check: str, weights_dir: Path, weights_settings: Settings
) -> None:
    try:
        result = run_check(check, stack.target, weights_dir, weights_settings, stack.expected)
    except SuiteError as exc:
        pytest.fail(f"{check}: {exc}", pytrace=False)
    assert result.ok, result.message()


@pytest.mark.per_target("rank", lambda s: [n.rank for n in s.nodes[1:]])
def test_weights_on_every_other_node(
    rank: int, host_report: HostReport, weights_dir: Path, weights_settings: Settings
) -> None:
    manifest = load_manifest(weights_settings.manifest or weights_dir / MANIFEST_NAME, weights_dir)
    problems = node_problems(host_report.nodes[rank], manifest)
    assert not problems, "\n".join(problems)
