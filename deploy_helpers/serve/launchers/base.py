"""What every launcher is: start a stack, tell whether it still runs, show its logs, stop it.

A launcher kind is a subclass with a `kind` (the catalog's `launcher:` literal); it
registers itself, so a new kind is the schema literal plus one module in this package.
`prepare` is the container stage (images on every node; nothing for process launchers),
`start` returns a `Service` once node 0 serves and every other node has joined.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deploy_helpers.client.endpoint import API_KEY_ENV, Endpoint, engine_version
from deploy_helpers.report import facts
from deploy_helpers.report.redact import redact_argv, redact_env
from deploy_helpers.serve.plan import NodePlan

if TYPE_CHECKING:
    from deploy_helpers.serve.stack import Stack


@dataclass(frozen=True)
class WatchedNode:
    """One started node: how messages name it, whether it still runs, and its log."""

    name: str
    alive: Callable[[], bool]
    log: Path
    pid: Callable[[], int | None] = lambda: None  # its process on this machine, if any
    container: str | None = None  # the id of its container on this machine, if any
    # how it ended ('exited with status 1', 'killed by signal SIGKILL (9)'), None while it runs
    ended: Callable[[], str | None] = lambda: None


@dataclass
class Service:
    """A started deployment: its endpoint and nodes; `stop()` ends it (idempotent)."""

    endpoint: Endpoint
    nodes: list[WatchedNode]
    resources: ExitStack = field(repr=False)
    mode: str
    target: str

    @classmethod
    def of(cls, stack: Stack, nodes: list[WatchedNode], resources: ExitStack) -> Service:
        """The service of `stack` once its `nodes` serve; `resources` stop them."""
        return cls(
            stack.endpoint(nodes[0].log), nodes, resources, stack.graph_mode or "default", stack.id
        )

    def alive(self) -> bool:
        """True while every node of the deployment still runs."""
        return all(node.alive() for node in self.nodes)

    def dead_nodes(self) -> list[WatchedNode]:
        """The nodes that no longer run."""
        return [node for node in self.nodes if not node.alive()]

    def logs(self) -> list[Path]:
        """Every node's log, node 0 first."""
        return [node.log for node in self.nodes]

    def ended(self) -> tuple[str, Path] | None:
        """How the first node that no longer runs ended ('server killed by signal SIGKILL
        (9)') and its log; None while every node runs."""
        for node in self.dead_nodes():
            return f"{node.name} {node.ended() or 'is no longer running'}", node.log
        return None

    def local_pids(self) -> list[int]:
        """The deployment's processes on this machine (their children count as theirs)."""
        return [pid for node in self.nodes if (pid := node.pid()) is not None]

    def local_containers(self) -> list[str]:
        """The ids of the deployment's containers on this machine."""
        return [node.container for node in self.nodes if node.container]

    def stop(self) -> None:
        """Stop every node and release what the launcher holds (containers, ssh clients)."""
        self.resources.close()

    def facts(self) -> list[facts.Fact]:
        """The endpoint, its served name and the engine's version, for the fingerprint."""
        return [
            facts.Fact(
                "engine",
                {
                    "endpoint": self.endpoint.base_url,
                    "served_model_name": self.endpoint.served_model_name,
                    "version": engine_version(self.endpoint),
                },
                self.target,
            )
        ]


@dataclass(frozen=True)
class NoImages:
    """The container stage's result for launchers that run no container."""

    def facts(self) -> list[facts.Fact]:
        """Nothing to record."""
        return []


class Launcher:
    """Base of the launcher kinds; subclasses set `kind` and implement `start`."""

    kind: ClassVar[str] = ""
    uses_containers: ClassVar[bool] = False
    remote: ClassVar[bool] = False
    kinds: ClassVar[dict[str, type[Launcher]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Launcher.kinds[cls.kind] = cls

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(self.kind)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def prepare(self, stack: Stack) -> Any:
        """The container stage: make sure each node has the image (nothing by default)."""
        return NoImages()

    def start(
        self, stack: Stack, prepared: Any, run_dir: Path, log_dir: Path | None = None
    ) -> Service:
        """Start every node of `stack`; return once it serves (raise ServerStartError)."""
        raise NotImplementedError


def node_log(stack: Stack, plan: NodePlan, log_dir: Path) -> Path:
    """The log file of one node's server in one graph mode."""
    mode = stack.graph_mode or "default"
    suffix = f"-node{plan.rank}" if len(stack.nodes) > 1 else ""
    return log_dir / f"server-{stack.target.model.name}-{mode}{suffix}.log"


def serve_env(stack: Stack, plan: NodePlan) -> dict[str, str]:
    """A node's environment: its plan's, plus the API key (never in an argv)."""
    key = stack.options.api_key
    return {**plan.env, **({API_KEY_ENV: key} if key else {})}


def record_bring_up(
    run_dir: Path, stack: Stack, argv: list[str], env: dict[str, str], log: Path, **more: Any
) -> None:
    """Add one server start (its argv and env, secrets masked) to the run's fingerprint."""
    facts.record(
        run_dir,
        facts.BRING_UP,
        {
            "graph_mode": stack.graph_mode or "default",
            "launcher": stack.launcher.kind,
            "base_url": stack.base_url,
            "argv": redact_argv(argv),
            "env": redact_env(env),
            "log": log.name,
            "engine": stack.target.hardware.serve.engine,
            "started": facts.now_iso(),
            **more,
        },
        target=stack.id,
        append=True,
        source="launcher",
    )
