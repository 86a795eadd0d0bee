"""The weights stage of a stack: its weights directory, every applicable check, the facts.

`check_weights(stack, settings)` runs the checks of `weights/checks.py` that apply to the
stack's target on the weights directory its plan serves, and returns a `VerifiedWeights`
the bring-up consumes and the report fingerprints (the manifest's hash names the exact
weights that were verified).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deploy_helpers.host.node import Node
from deploy_helpers.report.facts import Fact
from deploy_helpers.report.fingerprint import manifest_hash
from deploy_helpers.serve.stack import Stack
from deploy_helpers.weights.checks import CheckResult, Settings, verify_target
from deploy_helpers.weights.manifest import (
    MANIFEST_NAME,
    WeightsError,
    load_manifest,
    unverified_files,
)
from deploy_helpers.weights.nodes import node_problems


def weights_dir(stack: Stack) -> Path:
    """The weights directory the stack's node 0 serves."""
    return Path(stack.head.weights)


@dataclass
class VerifiedWeights:
    """Every weights check of a stack on its weights directory."""

    stack: Stack
    root: Path
    manifest: Path
    results: list[CheckResult]
    node_problems: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        """One line per failed check (its problems and the remedy), then each other node's."""
        return [*(r.message() for r in self.results if not r.ok), *self.node_problems]

    def facts(self) -> list[Fact]:
        """The verified directory, the hash of the manifest it was verified against, where
        that manifest came from (self-made or published) and the files it does not list."""
        if not self.manifest.is_file():
            return []
        found = {
            "path": str(self.root),
            "manifest": self.manifest.name,
            "manifest_sha256": manifest_hash(self.manifest),
        }
        try:
            found["manifest_origin"] = load_manifest(self.manifest)["origin"]
            found["unverified_files"] = unverified_files(self.root, self.manifest)
        except (WeightsError, OSError) as exc:
            found["manifest_origin"] = f"unreadable ({exc})"
        return [Fact("weights", found, self.stack.id)]


def check_weights(stack: Stack, settings: Settings, others: list[Node] = ()) -> VerifiedWeights:
    """Run every applicable weights check on the stack's weights directory (here), then
    hash each of the `others` nodes' copies there against the same manifest."""
    root = weights_dir(stack)
    manifest = settings.manifest or root / MANIFEST_NAME
    results = verify_target(stack.target, root, settings, stack.expected)
    remote = []
    if others and all(r.ok for r in results):
        listed = load_manifest(manifest, root)
        for node in others:
            remote += [f"weights on {p}" for p in node_problems(node, listed)]
    return VerifiedWeights(stack, root, manifest, results, remote)
