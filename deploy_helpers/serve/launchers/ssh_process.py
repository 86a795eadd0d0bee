"""Launcher `ssh-process`: every node runs its serve argv over ssh (node 1.. headless)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy_helpers.serve.cluster import start_nodes
from deploy_helpers.serve.launchers.base import Launcher, Service

if TYPE_CHECKING:
    from deploy_helpers.serve.stack import Stack


class SshProcessLauncher(Launcher):
    """Each node's argv as a process on that node, reached over ssh."""

    kind = "ssh-process"
    remote = True

    def start(
        self, stack: Stack, prepared: Any, run_dir: Path, log_dir: Path | None = None
    ) -> Service:
        """Start every node; return once node 0 serves and the others joined."""
        return start_nodes(stack, run_dir, log_dir or run_dir, lambda plan, keys: plan.argv)
