"""The weights on every other node of a deployment, checked on that node against the manifest.

Each node hashes its own copy with the coreutils tool of the manifest's algorithm
(`sha256sum` / `md5sum`, run through its testinfra host: no weights cross the network), in
batches; a missing, resized or differing file is named with the node.
"""

from __future__ import annotations

import posixpath
from typing import Any

from deploy_helpers.host.node import Node

BATCH = 64  # files per command line


def node_problems(node: Node, manifest: dict[str, Any]) -> list[str]:
    """What differs between the node's weights directory and `manifest` (empty: all match)."""
    root = node.plan.weights
    tool = f"{manifest['algorithm']}sum"
    files = sorted(manifest["files"])
    if not node.host.file(root).exists:
        return [f"{node.label}: {root}: weights directory not found"]
    problems = []
    for start in range(0, len(files), BATCH):
        batch = files[start : start + BATCH]
        done = node.run(tool, *[posixpath.join(root, rel) for rel in batch])
        digests = {}
        for line in done.stdout.splitlines():
            digest, _, path = line.partition("  ")
            digests[posixpath.relpath(path.lstrip("*"), root)] = digest
        for rel in batch:
            wanted = manifest["files"][rel]["digest"]
            found = digests.get(rel)
            if found is None:
                problems.append(f"{node.label}: {rel}: missing or unreadable ({tool})")
            elif found.lower() != wanted.lower():
                problems.append(
                    f"{node.label}: {rel}: {tool} {found[:12]}... differs from "
                    f"the manifest's {wanted[:12]}..."
                )
    return problems
