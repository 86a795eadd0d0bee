"""Starting every node of a multi-node deployment over ssh, node 0 first, and stopping them.

Each node runs its command through `remote.running_remote` (environment on stdin, never in
an argv). The launchers `ssh-process` and `ssh-container` differ only in that command: the
serve argv itself, or `docker run` of the node's container.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from deploy_helpers.serve import remote
from deploy_helpers.serve.launchers.base import (
    Service,
    WatchedNode,
    node_log,
    record_bring_up,
    serve_env,
)
from deploy_helpers.serve.plan import NodePlan
from deploy_helpers.serve.readiness import wait_until_ready
from deploy_helpers.signals import sigterm_raises_interrupt

if TYPE_CHECKING:
    from deploy_helpers.serve.stack import Stack

NodeCommand = Callable[[NodePlan, list[str]], list[str]]  # (plan, env keys) -> argv


def node_label(plan: NodePlan) -> str:
    """How messages name a node."""
    return f"node {plan.rank} ({plan.address})"


def start_nodes(
    stack: Stack,
    run_dir: Path,
    log_dir: Path,
    command: NodeCommand,
    on_start: Callable[[NodePlan, ExitStack], dict] | None = None,
) -> Service:
    """Start `command` on every node over ssh; return once node 0 serves and all joined.

    `on_start(plan, resources)` runs before a node starts (e.g. to register the removal of
    its container) and returns extra facts of its bring-up.
    """
    resources = ExitStack()
    nodes: list[WatchedNode] = []
    with sigterm_raises_interrupt():
        try:
            for plan in stack.nodes:
                log = node_log(stack, plan, log_dir)
                env = serve_env(stack, plan)
                argv = command(plan, list(env))
                more = on_start(plan, resources) if on_start else {}
                record_bring_up(run_dir, stack, argv, env, log, node=node_label(plan), **more)
                proc = resources.enter_context(remote.running_remote(plan.address, argv, env, log))
                nodes.append(WatchedNode(node_label(plan), proc.alive, log, ended=proc.ended))
            wait_until_ready(stack, nodes)
        except BaseException:
            resources.close()
            raise
    return Service.of(stack, nodes, resources)
