"""Launcher `container`: the serve argv in a container of this machine's Docker engine."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deploy_helpers.report.facts import Fact
from deploy_helpers.serve import containers
from deploy_helpers.serve.launchers.base import (
    Launcher,
    Service,
    WatchedNode,
    node_log,
    record_bring_up,
    serve_env,
)
from deploy_helpers.serve.plan import check_weights_mounted
from deploy_helpers.serve.readiness import wait_until_ready
from deploy_helpers.signals import sigterm_raises_interrupt

if TYPE_CHECKING:
    from deploy_helpers.serve.stack import Stack


@dataclass(frozen=True)
class LocalImage:
    """The container stage's result: the engine answers and the image is on this host."""

    target: str
    prepared: containers.PreparedImage

    def facts(self) -> list[Fact]:
        """The image reference and id, for the fingerprint."""
        return [
            Fact("image", {"ref": self.prepared.image, "id": self.prepared.image_id}, self.target)
        ]


class ContainerLauncher(Launcher):
    """Runs node 0's argv in its container (`docker run` flags from the profile)."""

    kind = "container"
    uses_containers = True

    def prepare(self, stack: Stack) -> LocalImage:
        """The Docker engine answers and the image is here (loaded from the tarball if not)."""
        check_weights_mounted(stack.head, stack.target.hardware.name)
        spec, profile = stack.head.container, stack.target.hardware
        tarball = profile.container.image_tarball if profile.container else None
        return LocalImage(stack.id, containers.prepare(spec.image, tarball, profile.name))

    def start(
        self, stack: Stack, prepared: LocalImage, run_dir: Path, log_dir: Path | None = None
    ) -> Service:
        """Start the container and wait until it serves."""
        plan = stack.head
        log = node_log(stack, plan, log_dir or run_dir)
        env = serve_env(stack, plan)
        argv = [*stack.target.hardware.container.command, *plan.argv]
        record_bring_up(run_dir, stack, argv, env, log, image_id=prepared.prepared.image_id)
        resources = ExitStack()
        with sigterm_raises_interrupt():
            try:
                running = resources.enter_context(
                    containers.running_container(prepared.prepared, plan.container, argv, env, log)
                )
                node = WatchedNode(
                    "container",
                    running.alive,
                    log,
                    running.pid,
                    running.container.id,
                    ended=running.ended,
                )
                wait_until_ready(stack, [node])
            except BaseException:
                resources.close()
                raise
        return Service.of(stack, [node], resources)
