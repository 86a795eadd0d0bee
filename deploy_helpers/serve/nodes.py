"""The service stage beyond one local process: a serve argv in a container, or on every node.

Readiness is node 0's `/health` and `/v1/models`; on a multi-node deployment every other
node must also show in its own log that it joined (the profile's `worker_join_log`).
While waiting, every node is watched: one that exits, or whose log shows a fatal line
of `catalog/log_rules.yaml`, fails the bring-up at once with the guides' remedy.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint
from deploy_helpers.errors import SuiteError
from deploy_helpers.serve import containers, remote
from deploy_helpers.serve.log_rules import explain_failure
from deploy_helpers.serve.plan import NodePlan
from deploy_helpers.serve.process import ServerStartError, tail, wait_until_serving
from deploy_helpers.signals import sigterm_raises_interrupt

WatchedNode = tuple[str, Callable[[], bool], Path]  # name, alive(), log


def watch_nodes(nodes: list[WatchedNode]) -> Callable[[], bool]:
    """An `alive()` for `wait_until_serving` that raises on a node's exit or fatal log line."""

    def check() -> bool:
        for name, alive, log in nodes:
            last = tail(log, 60)
            remedy = explain_failure(last)
            if remedy:
                raise ServerStartError(
                    f"{name}: fatal line in {log}\nremedy: {remedy}\nlast lines:\n{tail(log)}"
                )
            if not alive():
                raise ServerStartError(
                    f"{name} exited before serving; log {log}, last lines:\n{tail(log)}"
                )
        return True

    return check


@contextmanager
def in_container(
    target: Target, plan: NodePlan, env: dict[str, str], log: Path
) -> Iterator[Callable[[], bool]]:
    """Run the plan's serve argv in its container; yield the container's `alive()`."""
    spec, profile = plan.container, target.hardware
    if spec is None or profile.container is None:
        raise SuiteError(f"{profile.name}: launcher 'container' but the profile has no container")
    prepared = containers.prepare(spec.image, profile.container.image_tarball, profile.name)
    argv = [*profile.container.command, *plan.argv]
    with containers.running_container(prepared, spec, argv, env, log) as container:
        yield lambda: containers.is_running(container)


def wait_for_join(target: Target, node: str, log: Path, watch: Callable[[], bool]) -> None:
    """Wait until `log` shows the profile's `worker_join_log` (fail fast via `watch`)."""
    pattern = target.hardware.serve.worker_join_log
    if pattern is None:
        return
    deadline = time.monotonic() + target.hardware.serve.readiness_timeout_s
    while time.monotonic() < deadline:
        watch()
        if log.exists() and re.search(pattern, log.read_text(errors="replace")):
            return
        time.sleep(1.0)
    raise ServerStartError(f"{node} never logged joining ({pattern!r}); log {log}:\n{tail(log)}")


def node_argv(target: Target, plan: NodePlan, env_keys: list[str]) -> list[str]:
    """What one node runs over ssh: the serve argv, or `docker run` of its container."""
    profile = target.hardware
    if profile.launcher == "process":
        return plan.argv
    if profile.launcher != "container" or plan.container is None or profile.container is None:
        raise SuiteError(f"{profile.name}: multi-node launcher '{profile.launcher}' over ssh "
                         f"is not wired")
    return containers.docker_run_argv(
        plan.container, [*profile.container.command, *plan.argv], env_keys)


def check_node_ready_for_container(plan: NodePlan) -> str:
    """On the plan's node: its image is there (no registry is asked) and no container has
    its name yet (teardown removes that name, so it must be ours). Returns the image's id."""
    spec, node = plan.container, f"node {plan.rank} ({plan.address})"
    found = remote.run(plan.address, ["docker", "image", "inspect", "--format", "{{.Id}}",
                                      spec.image])
    if found.returncode != 0:
        said = (found.stderr.strip().splitlines() or ["no output"])[-1]
        raise SuiteError(f"{node}: image '{spec.image}' is not usable there ({said}): no "
                         f"registry is asked; `docker load` it on that node")
    named = remote.run(plan.address, ["docker", "ps", "-aq", "--filter",
                                      f"name=^/{spec.name}$"])
    if named.stdout.strip():
        raise SuiteError(f"{node}: a container named '{spec.name}' already exists there: "
                         f"remove it (docker rm -f {spec.name}) or name this deployment's "
                         f"container otherwise")
    return found.stdout.strip()


def remove_remote_container(host: str, name: str) -> None:
    """`docker rm -f NAME` on `host`: the container goes even if its engine ignored SIGTERM."""
    remote.run(host, ["docker", "rm", "-f", name], timeout_s=60)


@contextmanager
def serving_nodes(
    target: Target, plans: list[NodePlan], logs: list[Path], secrets: dict[str, str],
    endpoint: Endpoint, record: Callable[..., None],
) -> Iterator[None]:
    """Start every node's plan over ssh (node 0 first), in its container where the profile
    has one; return once all serve; stop them all (and remove their containers).
    `record(argv, env, log, node=..., [image_id=...])` is told of each node's start."""
    with sigterm_raises_interrupt(), ExitStack() as stack:
        nodes: list[WatchedNode] = []
        for plan, log in zip(plans, logs, strict=True):
            env = {**plan.env, **secrets}
            argv = node_argv(target, plan, list(env))
            label, more = f"node {plan.rank} ({plan.address})", {}
            if plan.container is not None:
                more["image_id"] = check_node_ready_for_container(plan)
                stack.callback(remove_remote_container, plan.address, plan.container.name)
            record(argv, env, log, node=label, **more)
            proc = stack.enter_context(remote.running_remote(plan.address, argv, env, log))
            nodes.append((label, proc.alive, log))
        watch = watch_nodes(nodes)
        wait_until_serving(
            endpoint.base_url, plans[0].served_model_name,
            target.hardware.serve.readiness_timeout_s, alive=watch, log=logs[0],
            headers=endpoint.headers,
        )
        for name, _, log in nodes[1:]:
            wait_for_join(target, name, log, watch)
        yield
