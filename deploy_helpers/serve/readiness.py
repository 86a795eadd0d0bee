"""Waiting for a started deployment: node 0 serves, every other node joined, none died.

Readiness is node 0's `/health` and `/v1/models`; on a multi-node deployment every other
node must also show in its own log that it joined (the profile's `worker_join_log`).
While waiting, every node is watched: one that exits, or whose log shows a fatal line
of `catalog/log_rules.yaml`, fails the bring-up at once with the guides' remedy.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from deploy_helpers.serve.launchers.base import WatchedNode
from deploy_helpers.serve.log_rules import explain_failure
from deploy_helpers.serve.process import ServerStartError, tail, wait_until_serving

if TYPE_CHECKING:
    from deploy_helpers.serve.stack import Stack


def watch_nodes(nodes: list[WatchedNode]) -> Callable[[], bool]:
    """An `alive()` for `wait_until_serving` that raises on a node's exit or fatal log line."""

    def check() -> bool:
        for node in nodes:
            remedy = explain_failure(tail(node.log, 60))
            if remedy:
                raise ServerStartError(
                    f"{node.name}: fatal line in {node.log}\nremedy: "
                    f"{remedy}\nlast lines:\n{tail(node.log)}"
                )
            if not node.alive():
                raise ServerStartError(
                    f"{node.name} exited before serving; log {node.log}, "
                    f"last lines:\n{tail(node.log)}"
                )
        return True

    return check


def wait_for_join(stack: Stack, node: WatchedNode, watch: Callable[[], bool]) -> None:
    """Wait until the node's log shows the profile's `worker_join_log` (fail fast via `watch`)."""
    pattern = stack.target.hardware.serve.worker_join_log
    if pattern is None:
        return
    deadline = time.monotonic() + stack.readiness_timeout_s
    while time.monotonic() < deadline:
        watch()
        if node.log.exists() and re.search(pattern, node.log.read_text(errors="replace")):
            return
        time.sleep(1.0)
    raise ServerStartError(
        f"{node.name} never logged joining ({pattern!r}); log {node.log}:\n{tail(node.log)}"
    )


def listening_elsewhere(stack: Stack, log: str) -> str | None:
    """Where node 0's log says the engine listens, when that is not the port polled."""
    pattern = stack.target.hardware.serve.listening_log
    found = re.search(pattern, log) if pattern else None
    if found is None:
        return None
    url = found.group("url")
    port = urlsplit(url).port
    return url if port is not None and port != stack.head.port else None


def wait_until_ready(stack: Stack, nodes: list[WatchedNode]) -> None:
    """Node 0 serves the stack's model and every other node joined; raise otherwise (at once
    when node 0's log says the engine listens on another port than the one polled)."""
    node_watch = watch_nodes(nodes)

    def watch() -> bool:
        head = nodes[0].log
        elsewhere = (
            listening_elsewhere(stack, head.read_text(errors="replace")) if head.exists() else None
        )
        if elsewhere:
            raise ServerStartError(
                f"the engine listens on {elsewhere}, but the plan polls "
                f"port {stack.head.port} (the serve argv's --port, else the "
                f"engine's default); log {head}"
            )
        return node_watch()

    endpoint = stack.endpoint()
    wait_until_serving(
        stack.base_url,
        stack.served_model_name,
        stack.readiness_timeout_s,
        alive=watch,
        log=nodes[0].log,
        headers=endpoint.headers,
    )
    for node in nodes[1:]:
        wait_for_join(stack, node, watch)
