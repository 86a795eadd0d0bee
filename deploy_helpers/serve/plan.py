"""Serve plans: the exact argv, env and container spec each node of a deployment runs.

A plan is derived from the catalog (profile flags, then the deployment's, then the graph
mode's, then the chat-feature parsers) and the run's options. The stack
(deploy_helpers/serve/stack.py) is the only caller: the fixtures, the `plan` CLI and the
golden tests all read the plans it holds.
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from deploy_helpers.catalog.schema import FlagValue
from deploy_helpers.catalog.target import Target
from deploy_helpers.errors import SuiteError
from deploy_helpers.paths import REPO_ROOT

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class ContainerSpec:
    """What `docker run` gets for one node (Docker SDK keyword names)."""

    image: str
    name: str
    devices: list[str]
    mounts: list[str]
    network_mode: str
    ipc_mode: str | None
    privileged: bool
    user: str | None
    shm_size: str | None
    shell: list[str] | None = None


@dataclass(frozen=True)
class NodePlan:
    """Everything one node runs: the serve argv and env, and its container if any."""

    rank: int
    role: str
    address: str
    weights: str
    served_model_name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    container: ContainerSpec | None = None
    graph_mode: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def weights_path(target: Target, weights_root: str | None = None) -> str:
    """Where the target's weights live on a node; a relative root is relative to the repo."""
    root = Path(weights_root or target.hardware.weights_root)
    if not root.is_absolute():
        root = REPO_ROOT / root
    return str(root / (target.model.weights_dir or target.model.name))


def gpu_memory_utilization(target: Target) -> float | None:
    """The deployment's own utilization, else FAQ 6.3's for the model's size class."""
    if target.deployment.gpu_memory_utilization is not None:
        return target.deployment.gpu_memory_utilization
    table = target.hardware.gpu_memory_utilization_by_size
    if not table:
        return None
    if target.model.size_class not in table:
        raise SuiteError(
            f"{target.hardware.name}: no gpu-memory-utilization for size "
            f"{target.model.size_class} (table has {', '.join(table)})"
        )
    return table[target.model.size_class]


def graph_mode_names(target: Target) -> list[str]:
    """The graph modes that apply to the target's model family, default first."""
    modes = [
        m
        for m in target.hardware.graph_modes
        if m.families is None or target.model.family in m.families
    ]
    return [m.name for m in sorted(modes, key=lambda m: not m.default)]


def _mode_args(target: Target, mode: str | None) -> tuple[str | None, dict[str, FlagValue]]:
    modes = graph_mode_names(target)
    mode = mode or target.deployment.graph_mode or (modes[0] if modes else None)
    if mode is None:
        return None, {}
    if mode not in modes:
        raise SuiteError(
            f"graph mode '{mode}' does not apply to {target.id} (modes: {', '.join(modes)})"
        )
    chosen = next(m for m in target.hardware.graph_modes if m.name == mode)
    return mode, dict(chosen.args)


def _parser_args(target: Target) -> dict[str, FlagValue]:
    chat = target.model.chat
    args: dict[str, FlagValue] = {}
    if chat.tool_call_parser:
        args["--enable-auto-tool-choice"] = True
        args["--tool-call-parser"] = chat.tool_call_parser
    if chat.reasoning_parser:
        args["--reasoning-parser"] = chat.reasoning_parser
    return args


def fill(text: str, ctx: dict[str, object]) -> str:
    """Replace `{name}` placeholders from `ctx`; other braces (JSON values) stay as they are."""

    def sub(match: re.Match[str]) -> str:
        if match.group(1) not in ctx:
            raise SuiteError(f"unknown placeholder {match.group(0)} in catalog value {text!r}")
        return str(ctx[match.group(1)])

    return PLACEHOLDER.sub(sub, text)


def serve_flags(
    target: Target, graph_mode: str | None = None, role: str = "head", isa: str | None = None
) -> dict:
    """The merged flags of a node: profile, its ISA class's, node role, deployment, graph
    mode, parsers."""
    hw = target.hardware
    role_flags = hw.serve.node_args.get(role, {}) if hw.nodes > 1 else {}
    isa_flags = hw.serve.args_by_isa.get(isa or "", {})
    _, mode_flags = _mode_args(target, graph_mode)
    return _merge(
        hw.serve.args,
        isa_flags,
        role_flags,
        target.deployment.args,
        mode_flags,
        _parser_args(target),
    )


def _render_flags(flags: dict[str, FlagValue], style: str, ctx: dict[str, object]) -> list[str]:
    argv: list[str] = []
    for flag, value in flags.items():
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
            continue
        text = fill(value, ctx) if isinstance(value, str) else str(value)
        argv.extend([f"{flag}={text}"] if style == "equals" else [flag, text])
    return argv


def _merge(*layers: dict[str, FlagValue]) -> dict[str, FlagValue]:
    merged: dict[str, FlagValue] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def _format_env(env: dict[str, str], ctx: dict[str, object]) -> dict[str, str]:
    return {k: fill(v, ctx) for k, v in env.items()}


def check_weights_mounted(plan: NodePlan, profile: str) -> None:
    """Refuse a container that no mount lets see the weights its serve line reads."""
    if plan.container and not any(_holds(m, plan.weights) for m in plan.container.mounts):
        raise SuiteError(
            f"{profile}: no container mount holds the weights {plan.weights}, which the "
            "serve line reads inside the container: add one to its container.mounts "
            "(e.g. '{weights}:{weights}:ro'), or keep the weights under a mounted folder"
        )


def _holds(mount: str, path: str) -> bool:
    """Whether a host:container[:mode] mount shows the host's `path` at the same path."""
    host, _, rest = mount.partition(":")
    inside = PurePosixPath(rest.split(":", 1)[0])
    wanted = PurePosixPath(path)
    return (
        wanted.is_relative_to(host)
        and wanted.is_relative_to(inside)
        and wanted.relative_to(host) == wanted.relative_to(inside)
    )


def _container_spec(target: Target, ctx: dict[str, object], arch: str) -> ContainerSpec | None:
    spec = target.hardware.container
    if spec is None:
        return None
    if arch not in spec.image:
        raise SuiteError(
            f"{target.hardware.name}: no image for architecture {arch} "
            f"(has {', '.join(spec.image)})"
        )
    devices = []
    if spec.device_template:
        count = target.hardware.devices_per_node
        devices = [spec.device_template.format(i=i) for i in range(count)]
    mounts = [fill(m, ctx) for m in spec.mounts]
    return ContainerSpec(
        image=spec.image[arch],
        name=target.deployment.container_name or spec.name,
        devices=devices + list(spec.devices),
        mounts=mounts,
        network_mode=spec.network_mode,
        ipc_mode=spec.ipc_mode,
        privileged=spec.privileged,
        user=spec.user,
        shm_size=spec.shm_size,
        shell=spec.shell,
    )


def flag_name(flag: str) -> str:
    """A flag as vLLM's parser reads it: `--max_num_seqs` is `--max-num-seqs`."""
    return "--" + flag.removeprefix("--").replace("_", "-")


def argv_value(argv: list[str], flag: str) -> str | None:
    """The value `argv` gives `flag` (`--flag V` or `--flag=V`, any spelling), if any."""
    wanted = flag_name(flag)
    for index, word in enumerate(argv):
        name, eq, value = word.partition("=")
        if not name.startswith("--") or flag_name(name) != wanted:
            continue
        if eq:
            return value
        return argv[index + 1] if index + 1 < len(argv) else None
    return None


def listen_port(target: Target, argv: list[str]) -> int:
    """The port the engine listens on: the argv's `--port`, else the engine's default."""
    value = argv_value(argv, "--port")
    if value is None:
        return target.hardware.serve.default_port
    try:
        return int(value)
    except ValueError:
        raise SuiteError(f"{target.hardware.name}: --port {value!r} is not a number") from None


@dataclass(frozen=True)
class PlanInputs:
    """What one planning pass needs beyond the catalog: the run's options, resolved."""

    node_ips: list[str]
    port: int
    weights_root: str | None
    graph_mode: str | None
    arch: str
    python: str
    nic: str | None
    isa: str | None = None  # the CPU ISA class of the nodes (CPU profiles' args_by_isa)


def plan_nodes(target: Target, inputs: PlanInputs) -> list[NodePlan]:
    """Plan every node of `target`: serve argv and env, container spec, weights path.

    Only the stack (deploy_helpers/serve/stack.py) calls this: every other stage reads
    the plans the stack holds.
    """
    hw, dep = target.hardware, target.deployment
    mode, _ = _mode_args(target, inputs.graph_mode)
    weights = weights_path(target, inputs.weights_root)
    served = dep.served_model_name or weights
    visible = ",".join(str(i) for i in range(dep.tensor_parallel))
    python = inputs.python
    plans = []
    for rank, ip in enumerate(inputs.node_ips):
        role = "head" if rank == 0 else "worker"
        ctx: dict[str, object] = {
            "weights": weights,
            "served_model_name": served,
            "port": inputs.port,
            "tensor_parallel": dep.tensor_parallel,
            "data_parallel": dep.data_parallel,
            "gpu_memory_utilization": gpu_memory_utilization(target),
            "visible_devices": visible,
            "node_ip": ip,
            "node_rank": rank,
            "head_ip": inputs.node_ips[0],
            "nic": inputs.nic or hw.host.nic or "",
            "python": python,
            # for container profiles that bind-mount the engine: the venv, its base Python
            "venv": str(Path(python).parent.parent),
            "python_home": sys.base_prefix,
            "repo": str(REPO_ROOT),
        }
        flags = serve_flags(target, mode, role, inputs.isa)
        command = [fill(part, ctx) for part in hw.serve.command]
        argv = command + _render_flags(flags, hw.serve.flag_style, ctx)
        plans.append(
            NodePlan(
                rank=rank,
                role=role,
                address=ip,
                weights=weights,
                served_model_name=served,
                port=listen_port(target, argv),
                argv=argv,
                env=_format_env({**hw.serve.env, **hw.env_per_node, **dep.env}, ctx),
                container=_container_spec(target, ctx, inputs.arch),
                graph_mode=mode,
            )
        )
    return plans
