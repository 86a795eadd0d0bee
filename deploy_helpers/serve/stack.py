"""The stack of one run and target: every node's plan and the launcher, planned once.

`Stack.plan(target, options)` is the only place plans are built. It takes the catalog
target and all of the run's options (node addresses, NIC, weights root, graph mode, port,
API key, architecture, readiness bound); the stages read the plans it holds, the `plan`
CLI prints it, and a graph mode is the same stack planned in another mode (`in_mode`),
so two modes whose plans are identical are one bring-up (`serves_like`).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deploy_helpers.catalog.schema import FlagValue
from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint
from deploy_helpers.errors import SuiteError
from deploy_helpers.host.cpu import node_isa
from deploy_helpers.host.node import is_local
from deploy_helpers.serve.launchers import Launcher, Service, launcher_for
from deploy_helpers.serve.plan import (
    NodePlan,
    PlanInputs,
    flag_name,
    graph_mode_names,
    plan_nodes,
    serve_flags,
)
from deploy_helpers.serve.process import free_port


@dataclass(frozen=True)
class RunOptions:
    """Every option of a run that shapes what is started, as the user gave it."""

    node_ips: tuple[str, ...] = ()
    nic: str | None = None
    weights_root: str | None = None
    graph_mode: str | None = None
    port: int | None = None
    api_key: str | None = field(default=None, repr=False)
    arch: str | None = None
    python: str | None = None
    endpoint: str | None = None
    served_model_name: str | None = None
    readiness_timeout_s: float | None = None


@dataclass(frozen=True)
class Stack:
    """One target planned with one run's options: its nodes, its mode and its launcher."""

    target: Target
    options: RunOptions
    nodes: tuple[NodePlan, ...]
    port: int
    launcher: Launcher
    expected: Target

    @classmethod
    def plan(cls, target: Target, options: RunOptions, expected: Target | None = None) -> Stack:
        """Plan `target` with `options`: the one place plans are built. `expected` is the
        target whose model-quality expectations apply (golden answers, templates, known
        issues, floors): the model actually served, which on a twin is a stand-in."""
        hardware = target.hardware
        launcher = launcher_for(hardware)
        addresses = list(options.node_ips)
        if not addresses and hardware.nodes == 1:
            addresses = ["127.0.0.1"]
        if len(addresses) != hardware.nodes:
            raise SuiteError(
                f"{target.id} runs on {hardware.nodes} node(s): pass --node-ip once per node, "
                f"node 0 first (got {len(addresses)})"
            )
        if not options.endpoint and not launcher.remote:
            remote = [a for a in addresses if not is_local(a)]
            if remote:
                raise SuiteError(
                    f"{hardware.name} starts its service on this machine ({launcher.kind} "
                    f"launcher), not on {remote[0]}: run the suite on that node, or test the "
                    f"running deployment with --endpoint"
                )
        port = options.port if options.port is not None else hardware.serve.port or free_port()
        stack = cls(target, options, (), port, launcher, expected or target)
        return stack._planned(options.graph_mode, addresses)

    def _planned(self, mode: str | None, addresses: list[str]) -> Stack:
        inputs = PlanInputs(
            node_ips=addresses,
            port=self.port,
            weights_root=self.options.weights_root,
            graph_mode=mode,
            arch=self.options.arch or platform.machine(),
            python=self.options.python or sys.executable,
            nic=self.options.nic,
            isa=self._isa(addresses[0]),
        )
        nodes = tuple(plan_nodes(self.target, inputs))
        if self.options.port is not None and nodes[0].port != self.options.port:
            raise SuiteError(
                f"{self.target.hardware.name}: its serve line sets no --port, so the engine "
                f"listens on its default {nodes[0].port}, not on --port {self.options.port}"
            )
        return replace(self, nodes=nodes)

    def _isa(self, address: str) -> str | None:
        """Node 0's CPU ISA class where the profile's flags depend on it, else None."""
        if not self.target.hardware.serve.args_by_isa or self.options.endpoint:
            return None
        return node_isa(address)

    def in_mode(self, mode: str) -> Stack:
        """The same target and options, planned in graph mode `mode`."""
        return self._planned(mode, [n.address for n in self.nodes])

    def beside(self) -> Stack:
        """This stack on a port of its own, to run while another bring-up of the target is
        up: a fresh free port where the profile picks one (port 0), else the same stack
        (a fixed port can hold one service at a time)."""
        if self.options.port is not None or self.target.hardware.serve.port:
            return self
        moved = replace(self, port=free_port())
        return moved._planned(self.graph_mode, [n.address for n in self.nodes])

    @property
    def id(self) -> str:
        """The target's id."""
        return self.target.id

    @property
    def simulated(self) -> bool:
        """Whether the model served is a stand-in (a twin run)."""
        return self.expected != self.target

    @property
    def head(self) -> NodePlan:
        """Node 0: the one that serves HTTP."""
        return self.nodes[0]

    @property
    def graph_mode(self) -> str | None:
        """The graph mode this stack is planned in."""
        return self.head.graph_mode

    @property
    def modes(self) -> list[str]:
        """Every graph mode that applies to the target, default first."""
        return graph_mode_names(self.target)

    def modes_main_last(self) -> list[str]:
        """The graph modes, default first, except that the mode this stack itself is planned
        in comes last: it is the main service, brought up once for good."""
        return sorted(self.modes, key=lambda mode: self.in_mode(mode).serves_like(self))

    @property
    def served_model_name(self) -> str:
        """The model name clients send: --served-model-name for --endpoint, else the plan's."""
        return self.options.served_model_name or self.head.served_model_name

    @property
    def base_url(self) -> str:
        """Where clients reach the service: --endpoint, else node 0 on its listening port."""
        if self.options.endpoint:
            return self.options.endpoint.rstrip("/")
        host = self.head.address
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{self.head.port}"

    @property
    def readiness_timeout_s(self) -> float:
        """How long a bring-up may take: --readiness-timeout, else the profile's bound."""
        return self.options.readiness_timeout_s or self.target.hardware.serve.readiness_timeout_s

    def endpoint(self, log_path: Path | None = None) -> Endpoint:
        """The endpoint of this stack's service."""
        return Endpoint(
            self.base_url,
            self.served_model_name,
            api_key=self.options.api_key,
            log_path=log_path,
            bounds=self.target.hardware.serve.request_bounds,
        )

    def flag(self, name: str, node: int = 0) -> FlagValue:
        """The value node `node` serves `name` with (any spelling), or None."""
        wanted = flag_name(name)
        role = self.nodes[node].role
        isa = self._isa(self.nodes[node].address)
        for flag, value in serve_flags(self.target, self.graph_mode, role, isa).items():
            if flag_name(flag) == wanted:
                return value
        return None

    def serves_like(self, other: Stack) -> bool:
        """Whether `other` starts exactly what this stack starts (then one bring-up serves
        both): the same target, and every node's argv, env and container the same."""

        def started(stack: Stack) -> list[tuple]:
            return [(n.address, n.argv, n.env, n.container) for n in stack.nodes]

        return self.target == other.target and started(self) == started(other)

    @contextmanager
    def serving(
        self, run_dir: Path, prepared: Any, log_dir: Path | None = None
    ) -> Iterator[Service]:
        """Start this stack with its launcher (the container stage's result `prepared`),
        its logs in `log_dir` (default: the run folder); yield the service once it serves;
        always stop it."""
        service = self.launcher.start(self, prepared, run_dir, log_dir)
        try:
            yield service
        finally:
            service.stop()
