"""Launcher `process`: the serve argv as a local process (the embedded default)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy_helpers.serve.launchers.base import (
    Launcher,
    Service,
    WatchedNode,
    node_log,
    record_bring_up,
    serve_env,
)
from deploy_helpers.serve.process import exit_cause, start_process, stop_process_group
from deploy_helpers.serve.readiness import wait_until_ready
from deploy_helpers.signals import sigterm_raises_interrupt

if TYPE_CHECKING:
    from deploy_helpers.serve.stack import Stack


class ProcessLauncher(Launcher):
    """Runs node 0's argv on this machine, in a session of its own."""

    kind = "process"

    def start(
        self, stack: Stack, prepared: Any, run_dir: Path, log_dir: Path | None = None
    ) -> Service:
        """Start the serve process and wait until it serves."""
        plan = stack.head
        log = node_log(stack, plan, log_dir or run_dir)
        env = serve_env(stack, plan)
        record_bring_up(run_dir, stack, plan.argv, env, log)
        resources = ExitStack()
        with sigterm_raises_interrupt():
            try:
                proc = start_process(plan.argv, env, log)
                resources.callback(stop_process_group, proc)
                node = WatchedNode(
                    "server",
                    lambda: proc.poll() is None,
                    log,
                    lambda: proc.pid,
                    ended=lambda: exit_cause(proc.poll()),
                )
                wait_until_ready(stack, [node])
            except BaseException:
                resources.close()
                raise
        return Service.of(stack, [node], resources)
