"""Launcher `ssh-container`: every node runs its container on its own Docker engine, over ssh.

The container stage checks each node for the image (loading the profile's tarball there when
it is missing: seed 003 §2 `docker load -i`) and for a container already holding the
deployment's name; teardown removes that name on every node.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deploy_helpers.report.facts import Fact
from deploy_helpers.serve import containers, remote
from deploy_helpers.serve.cluster import node_label, start_nodes
from deploy_helpers.serve.launchers.base import Launcher, Service
from deploy_helpers.serve.plan import NodePlan, check_weights_mounted

if TYPE_CHECKING:
    from deploy_helpers.serve.stack import Stack


@dataclass(frozen=True)
class NodeImages:
    """The container stage's result: each node's image id, by node label."""

    target: str
    image: str
    ids: dict[str, str]

    def facts(self) -> list[Fact]:
        """The image reference and each node's image id, for the fingerprint."""
        return [Fact("image", {"ref": self.image, "id_per_node": self.ids}, self.target)]


class SshContainerLauncher(Launcher):
    """Each node's argv in its container, `docker run` over ssh on the node's engine."""

    kind = "ssh-container"
    uses_containers = True
    remote = True

    def prepare(self, stack: Stack) -> NodeImages:
        """Every node has the image (or loads the tarball, all nodes at once) and no container of
        its name; the first node in rank order that fails is named."""
        check_weights_mounted(stack.head, stack.target.hardware.name)
        tarball = containers.resolve_tarball(stack.target.hardware.container.image_tarball)
        # every node loads from its own disk: all at once, as an operator would on a rack
        with ThreadPoolExecutor(len(stack.nodes)) as pool:
            found = pool.map(lambda plan: remote.prepare_image(plan, tarball), stack.nodes)
            ids = dict(zip(map(node_label, stack.nodes), found, strict=True))
        return NodeImages(stack.id, stack.head.container.image, ids)

    def start(
        self, stack: Stack, prepared: NodeImages, run_dir: Path, log_dir: Path | None = None
    ) -> Service:
        """Start every node's container; return once node 0 serves and the others joined."""
        command = stack.target.hardware.container.command

        def serve_argv(plan: NodePlan, env_keys: list[str]) -> list[str]:
            argv = [*command, *plan.argv]
            if plan.container.shell:
                return containers.docker_exec_argv(plan.container, argv, env_keys)
            return containers.docker_run_argv(plan.container, argv, env_keys)

        def on_start(plan: NodePlan, resources: ExitStack) -> dict:
            resources.callback(remote.remove_container, plan.address, plan.container.name)
            if plan.container.shell:
                remote.start_container(plan, containers.docker_shell_argv(plan.container))
            return {"image_id": prepared.ids[node_label(plan)]}

        return start_nodes(stack, run_dir, log_dir or run_dir, serve_argv, on_start)
