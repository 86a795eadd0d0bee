"""Host stage: what a node must be before a deployment is started on it.

Each check reads a node through a testinfra host (`local://` or `ssh://user@ip`), so the
same code qualifies this machine and remote NPU nodes. Which checks apply, and every
threshold they hold a node to, come from the target's catalog entries: the hardware
profile (drivers, chip family, kernel rule, host rules, container devices, NIC) and the
model (weights size). A failure names what was found, what was wanted and the guide's
remedy from the profile's `host.remedies`.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deploy_helpers.catalog.target import Target
from deploy_helpers.errors import SuiteError
from deploy_helpers.host import chips, npu_tools
from deploy_helpers.host.node import CheckFailed, CheckResult, Node
from deploy_helpers.serve.plan import NodePlan
from deploy_helpers.serve.stack import Stack
from deploy_helpers.weights.manifest import MANIFEST_NAME

GIB = 1024**3


# --------------------------------------------------------------------------- thresholds


def chips_needed(target: Target) -> int:
    """NPU chips one node must have: its share of TP x DP (seed 000 §2.C, seed 003 §4).

    TP and DP count chips, one /dev/davinciN each (seed 000 §4 maps davinci0-3 for TP 4),
    not NPU cards: a 300I Duo card holds two chips.
    """
    dep = target.deployment
    return max(1, dep.tensor_parallel * dep.data_parallel // target.hardware.nodes)


def chips_rule(target: Target) -> str:
    """How `chips_needed` was counted, for messages and the plan."""
    dep = target.deployment
    return (
        f"TP {dep.tensor_parallel} x DP {dep.data_parallel} over "
        f"{target.hardware.nodes} node(s): chips, one /dev/davinciN each, not NPU cards"
    )


def disk_needed_gib(target: Target) -> float:
    """Free disk the guide asks for at the weights path (seed 000 §2.A, FAQ 6.2)."""
    return target.model.disk_gib or target.model.weights_gib


def memory_needed_gib(target: Target) -> float:
    """Free CPU memory per node: weights / nodes x factor (seed 000 §2.B)."""
    hw = target.hardware
    return target.model.weights_gib / hw.nodes * hw.host.memory_factor


def version_matches(found: str, wanted: str) -> bool:
    """A found version is the wanted one or a patch build of it (24.1.rc3 ~ 24.1.rc3.7)."""
    return found == wanted or found.startswith(wanted + ".")


def required_devices(plan: NodePlan) -> list[str]:
    """Device nodes the node's container maps (its TP devices and the driver's nodes)."""
    return list(plan.container.devices) if plan.container else []


# --------------------------------------------------------------------------- the checks


def _npu_driver(node: Node) -> str:
    return _versions(node, "Software Version", "driver", node.target.hardware.drivers.driver)


def _npu_firmware(node: Node) -> str:
    return _versions(node, "Firmware Version", "firmware", node.target.hardware.drivers.firmware)


def _versions(node: Node, board_key: str, part: str, wanted: str | None) -> str:
    found: dict[str, str] = {}
    for npu_id in node.npu_info.npu_ids:
        found[f"NPU {npu_id} ({board_key})"] = node.board(npu_id).version(board_key)
    found[posixpath.join(node.paths.ascend_root, part, "version.info")] = node.installed_version(
        part
    )
    wrong = {where: v for where, v in found.items() if not version_matches(v, wanted or "")}
    if wrong:
        listed = ", ".join(f"{v} on {where}" for where, v in wrong.items())
        raise CheckFailed(f"{part} {listed}; the profile recommends {part} {wanted}")
    return f"{part} {wanted} on {len(found)} sources"


def _chip_family(node: Node) -> str:
    wanted = node.target.hardware.chip_family or ""
    rules = chips.family(wanted)
    if rules is None:
        known = ", ".join(f.key for f in chips.FAMILIES)
        raise CheckFailed(
            f"the suite has no evidence rules for chip family {wanted} (known: {known})"
        )
    table = node.npu_info
    pci = {n: node.board(n).values.get("PCI Device ID") for n in table.npu_ids}
    names = {n: node.board(n, 0).require("Chip Name") for n in table.npu_ids}
    found = [
        (e, chips.families_of(e))
        for e in chips.evidence_of(table, {n: v for n, v in pci.items() if v}, names)
    ]
    bad = [(e, fams) for e, fams in found if fams != [rules]]
    if bad:
        evidence, fams = bad[0]
        where = f"NPU {evidence.chip.npu_id} chip {evidence.chip.chip}"
        if not fams:
            verdict = f"{where} fits no known chip family"
        elif len(fams) > 1:
            verdict = (
                f"{where} could be {' or '.join(f.label for f in fams)}: the evidence cannot tell"
            )
        else:
            verdict = f"{where} is {fams[0].label}"
        raise CheckFailed(
            f"{verdict} ({evidence.describe()}; {len(bad)} of {len(found)} "
            f"chips so); {node.target.hardware.name} needs {rules.label}"
        )
    return (
        f"{table.chip_count} chips on {table.npu_count} NPUs are {rules.label} "
        f"({found[0][0].describe()})"
    )


def _npu_count(node: Node) -> str:
    table = node.npu_info
    have, need = table.chip_count, chips_needed(node.target)
    counted = f"{have} chips on {table.npu_count} NPUs in npu-smi info"
    if have < need:
        raise CheckFailed(
            f"{counted}; {node.target.model.name} needs {need} chips per node "
            f"({chips_rule(node.target)})"
        )
    return f"{counted} >= {need} ({chips_rule(node.target)})"


def _npu_health(node: Node) -> str:
    accepted = node.target.hardware.host.accepted_npu_health
    chips_read = node.npu_info.chips
    bad = [c for c in chips_read if c.health not in accepted]
    if bad:
        listed = ", ".join(f"NPU {c.npu_id} chip {c.chip} {c.health}" for c in bad)
        raise CheckFailed(f"npu-smi health {listed} (accepted: {', '.join(accepted)})")
    return f"{len(chips_read)} chips {'/'.join(accepted)}"


def _npu_processes(node: Node) -> str:
    table = node.npu_info
    if not table.processes:
        return f"no process on any of the {table.chip_count} chips"
    shown = "; ".join(p.describe() for p in table.processes[:4])
    more = len(table.processes) - 4
    listed = shown + (f"; and {more} more" if more > 0 else "")
    rule = node.target.hardware.host.npu_processes_allowed
    if node.endpoint is not None and rule == "with-endpoint":
        return (
            f"{len(table.processes)} processes hold chips, allowed with --endpoint (the "
            f"deployment's own engine serves at {node.endpoint}): {listed}"
        )
    when = "with --endpoint (the profile allows none)" if node.endpoint else "before bring-up"
    raise CheckFailed(f"{len(table.processes)} processes already hold NPU chips {when}: {listed}")


def _kernel_version(node: Node) -> str:
    release = node.output("uname", "-r").strip()
    prefix = node.target.hardware.drivers.kernel_prefix or ""
    if not (release == prefix or release.startswith((prefix + ".", prefix + "-"))):
        raise CheckFailed(f"kernel {release} (uname -r) is not {prefix}.x")
    return f"kernel {release}"


def _kernel_packages(node: Node) -> str:
    release = node.output("uname", "-r").strip()
    wanted = [f"{name}-{release}" for name in node.target.hardware.host.kernel_packages]
    if node.host.exists("rpm"):
        missing = [p for p in wanted if node.run("rpm", "-q", p).rc != 0]
        manager = "rpm"
    else:
        missing = [
            p
            for p in wanted
            if "install ok installed"
            not in node.run("dpkg-query", "-W", "-f", "${Status}", p).stdout
        ]
        manager = "dpkg"
    if missing:
        raise CheckFailed(f"{', '.join(missing)} not installed ({manager}; uname -r {release})")
    return f"{', '.join(wanted)} installed"


def _required_commands(node: Node) -> str:
    commands = node.target.hardware.host.required_commands
    missing = [c for c in commands if not node.host.exists(c)]
    if missing:
        raise CheckFailed(f"{', '.join(missing)} not found on PATH")
    return f"{', '.join(commands)} present"


def _existing_ancestor(node: Node, path: str) -> str:
    while not node.host.file(path).exists and path not in ("/", ""):
        path = posixpath.dirname(path.rstrip("/")) or "/"
    return path


def _free_gib(node: Node, path: str) -> float:
    fields = node.output("df", "-Pk", path).splitlines()[-1].split()
    return int(fields[3]) * 1024 / GIB


def _present_gib(node: Node, path: str) -> float:
    """How much of the weights is already on the node (`du -sk`; 0 when absent)."""
    if not node.host.file(path).exists:
        return 0.0
    return int(node.output("du", "-sk", path).split()[0]) * 1024 / GIB


def _complete(node: Node, root: str) -> bool:
    """Whether every file the weights manifest lists is there at its listed size (the
    checksums are the weights stage's to verify)."""
    manifest = posixpath.join(root, MANIFEST_NAME)
    try:
        files = json.loads(node.read(manifest)).get("files", {})
    except (CheckFailed, ValueError, AttributeError):
        return False
    return bool(files) and all(
        (handle := node.host.file(posixpath.join(root, rel))).exists
        and handle.size == entry.get("size")
        for rel, entry in files.items()
    )


def _disk_space(node: Node) -> str:
    where = _existing_ancestor(node, node.plan.weights)
    free_gib = _free_gib(node, where)
    if _complete(node, node.plan.weights):  # a complete download needs no more room
        return f"{free_gib:.1f} GiB free; the weights are all there (manifest sizes)"
    present = _present_gib(node, node.plan.weights)
    wanted = disk_needed_gib(node.target)
    need = max(0.0, wanted - present)
    if free_gib < need:
        raise CheckFailed(
            f"{free_gib:.1f} GiB free at {where} (filesystem of {node.plan.weights}), "
            f"{node.target.model.name} needs {need:g} GiB more ({wanted:g} GiB, "
            f"{present:.1f} GiB already there)"
        )
    return (
        f"{free_gib:.1f} GiB free >= {need:g} GiB still needed ({present:.1f} GiB of "
        f"the weights already there)"
    )


def _root_disk(node: Node) -> str:
    need = node.target.hardware.host.root_free_gib
    free_gib = _free_gib(node, "/")
    if free_gib < need:
        raise CheckFailed(
            f"{free_gib:.1f} GiB free on the root filesystem, the profile "
            f"wants {need:g} GiB (images, containers and logs live there)"
        )
    return f"{free_gib:.1f} GiB free on / >= {need:g} GiB"


def _memory(node: Node) -> str:
    meminfo = npu_tools.parse_key_values(node.read("/proc/meminfo"), ":", "/proc/meminfo")
    free_gib = int(meminfo.require("MemAvailable").split()[0]) * 1024 / GIB
    need = memory_needed_gib(node.target)
    if free_gib < need:
        hw = node.target.hardware
        raise CheckFailed(
            f"{free_gib:.1f} GiB CPU memory available, need {need:.1f} GiB "
            f"({node.target.model.weights_gib:g} GiB weights / {hw.nodes} node(s) x "
            f"{hw.host.memory_factor:g})"
        )
    return f"{free_gib:.1f} GiB available >= {need:.1f} GiB"


def _device_nodes(node: Node) -> str:
    paths = [node.paths.device(d) for d in required_devices(node.plan)]
    missing = [p for p in paths if not node.host.file(p).exists]
    if missing:
        raise CheckFailed(f"device node(s) {', '.join(missing)} missing")
    return f"{len(paths)} device nodes present"


def _docker_engine(node: Node) -> str:
    version = node.output("docker", "version", "--format", "{{.Server.Version}}").strip()
    return f"Docker engine {version}"


def _nic(node: Node) -> str:
    names = sorted({v for k, v in node.plan.env.items() if k.endswith("_SOCKET_IFNAME")})
    missing = [n for n in names if not node.host.interface(n).exists]
    if not names or missing:
        raise CheckFailed(f"network interface {', '.join(missing) or '(none set)'} not found")
    return f"{', '.join(names)} present"


def _hccl_if_ip(node: Node) -> str:
    ip = node.plan.env.get("HCCL_IF_IP", "")
    nic = node.plan.env.get("HCCL_SOCKET_IFNAME", "")
    iface = node.host.interface(nic)
    addresses = iface.addresses if iface.exists else []
    if ip not in addresses:
        raise CheckFailed(
            f"HCCL_IF_IP {ip} is not an address of {nic} (it has: {', '.join(addresses) or 'none'})"
        )
    return f"{ip} on {nic}"


def _hccn_value(node: Node, device: int, query: str, key: str) -> str:
    command = f"hccn_tool -i {device} {query} -g"
    try:
        return npu_tools.parse_hccn_status(node.hccn(device, query), key, command)
    except npu_tools.ParseError as exc:
        return f"unreadable ({exc})"


def _hccn_status(node: Node, query: str, key: str, wanted: str) -> str:
    devices = range(chips_needed(node.target))
    found = {i: _hccn_value(node, i, query, key) for i in devices}
    bad = {i: v for i, v in found.items() if v != wanted}
    if bad:
        listed = ", ".join(f"NPU {i} {v}" for i, v in bad.items())
        raise CheckFailed(f"hccn_tool {query} {key}: {listed} (wanted {wanted})")
    return f"{key} {wanted} on {len(found)} NPUs"


def _hccn_link(node: Node) -> str:
    return _hccn_status(node, "-link", "link status", "UP")


def _hccn_net_health(node: Node) -> str:
    return _hccn_status(node, "-net_health", "net health status", "Success")


def _hccn_tls(nodes: list[Node]) -> dict[str, str]:
    """Per node: '' when its TLS settings equal node 0's, else what differs."""
    settings = {
        node.label: {
            i: npu_tools.parse_hccn_tls(
                node.hccn(i, "-tls"), i, f"{node.label}: hccn_tool -i {i} -tls -g"
            )
            for i in range(chips_needed(node.target))
        }
        for node in nodes
    }
    reference = settings[nodes[0].label]
    verdict = {}
    for label, per_device in settings.items():
        diff = [
            f"NPU {i} {per_device[i]} vs {reference.get(i)}"
            for i in per_device
            if per_device[i] != reference.get(i)
        ]
        verdict[label] = "; ".join(diff)
    return verdict


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class HostCheck:
    """A named check: when it applies, what it requires, and how it runs on a node."""

    name: str
    applies: Callable[[Stack], bool]
    requirement: Callable[[Stack, NodePlan], str]
    run: Callable[[Node], str] | None = None
    run_all: Callable[[list[Node]], dict[str, str]] | None = None  # cross-node checks


def _npu(stack: Stack) -> bool:
    return stack.target.hardware.accelerator == "npu"


def _multi(stack: Stack) -> bool:
    return _npu(stack) and stack.target.hardware.nodes > 1


def _drivers(stack: Stack) -> Any:
    return stack.target.hardware.drivers


def _host(stack: Stack) -> Any:
    return stack.target.hardware.host


CHECKS: list[HostCheck] = [
    HostCheck(
        "npu_driver",
        lambda s: _npu(s) and bool(_drivers(s).driver),
        lambda s, p: (
            f"driver {_drivers(s).driver}[.patch] (npu-smi board Software "
            "Version, driver/version.info)"
        ),
        _npu_driver,
    ),
    HostCheck(
        "npu_firmware",
        lambda s: _npu(s) and bool(_drivers(s).firmware),
        lambda s, p: (
            f"firmware {_drivers(s).firmware}[.patch] (npu-smi board Firmware "
            "Version, firmware/version.info)"
        ),
        _npu_firmware,
    ),
    HostCheck(
        "chip_family",
        lambda s: _npu(s) and bool(s.target.hardware.chip_family),
        lambda s, p: (
            f"every chip a {s.target.hardware.chip_family} on all evidence (Name, "
            "memory columns, board PCI Device ID and -c 0 Chip Name)"
        ),
        _chip_family,
    ),
    HostCheck(
        "npu_count",
        _npu,
        lambda s, p: f">= {chips_needed(s.target)} NPU chips ({chips_rule(s.target)})",
        _npu_count,
    ),
    HostCheck(
        "npu_health",
        _npu,
        lambda s, p: f"every chip health in {_host(s).accepted_npu_health}",
        _npu_health,
    ),
    HostCheck(
        "npu_processes",
        _npu,
        lambda s, p: (
            "no process holds an NPU chip"
            + (
                " (with --endpoint: the deployment's own engine may)"
                if _host(s).npu_processes_allowed == "with-endpoint"
                else ""
            )
        ),
        _npu_processes,
    ),
    HostCheck(
        "kernel_version",
        lambda s: bool(_drivers(s).kernel_prefix),
        lambda s, p: f"uname -r starts with {_drivers(s).kernel_prefix}",
        _kernel_version,
    ),
    HostCheck(
        "kernel_packages",
        lambda s: bool(_host(s).kernel_packages),
        lambda s, p: ", ".join(f"{n}-$(uname -r)" for n in _host(s).kernel_packages) + " installed",
        _kernel_packages,
    ),
    HostCheck(
        "required_commands",
        lambda s: bool(_host(s).required_commands),
        lambda s, p: f"on PATH: {', '.join(_host(s).required_commands)}",
        _required_commands,
    ),
    HostCheck(
        "disk_space",
        lambda s: True,
        lambda s, p: f">= {disk_needed_gib(s.target):g} GiB free at {p.weights}",
        _disk_space,
    ),
    HostCheck(
        "root_disk",
        lambda s: _host(s).root_free_gib > 0,
        lambda s, p: f">= {_host(s).root_free_gib:g} GiB free on /",
        _root_disk,
    ),
    HostCheck(
        "memory",
        lambda s: True,
        lambda s, p: (
            f">= {memory_needed_gib(s.target):.2f} GiB MemAvailable "
            f"({s.target.model.weights_gib:g} GiB / "
            f"{s.target.hardware.nodes} node(s) x "
            f"{_host(s).memory_factor:g})"
        ),
        _memory,
    ),
    HostCheck(
        "device_nodes",
        lambda s: s.launcher.uses_containers and _npu(s),
        lambda s, p: f"present: {', '.join(required_devices(p))}",
        _device_nodes,
    ),
    HostCheck(
        "docker_engine",
        lambda s: s.launcher.uses_containers,
        lambda s, p: "docker version answers from the engine",
        _docker_engine,
    ),
    HostCheck(
        "nic",
        _multi,
        lambda s, p: (
            "interfaces exist: "
            + ", ".join(sorted({v for k, v in p.env.items() if k.endswith("_SOCKET_IFNAME")}))
        ),
        _nic,
    ),
    HostCheck(
        "hccl_if_ip",
        _multi,
        lambda s, p: (
            f"{p.env.get('HCCL_IF_IP')} is an address of {p.env.get('HCCL_SOCKET_IFNAME')}"
        ),
        _hccl_if_ip,
    ),
    HostCheck(
        "hccn_link",
        _multi,
        lambda s, p: f"hccn_tool -i 0..{chips_needed(s.target) - 1} -link -g: UP",
        _hccn_link,
    ),
    HostCheck(
        "hccn_net_health",
        _multi,
        lambda s, p: f"hccn_tool -i 0..{chips_needed(s.target) - 1} -net_health -g: Success",
        _hccn_net_health,
    ),
    HostCheck(
        "hccn_tls",
        _multi,
        lambda s, p: "hccn_tool -tls -g settings equal on every node",
        run_all=_hccn_tls,
    ),
]


def declared_checks(stack: Stack) -> list[HostCheck]:
    """The checks the stack's profile and launcher declare, in a fixed order."""
    return [check for check in CHECKS if check.applies(stack)]


def check_by_name(name: str) -> HostCheck:
    """A check of the registry by name."""
    for check in CHECKS:
        if check.name == name:
            return check
    raise SuiteError(f"unknown host check '{name}' (known: {', '.join(c.name for c in CHECKS)})")


def requirements(stack: Stack, plan: NodePlan) -> list[dict[str, str]]:
    """What each declared check requires of the node of `plan` (for the bring-up plan)."""
    remedies = stack.target.hardware.host.remedies
    return [
        {
            "check": c.name,
            "requires": c.requirement(stack, plan),
            "remedy": remedies.get(c.name, ""),
        }
        for c in declared_checks(stack)
    ]


def _message(node: Node, check: HostCheck, problem: str) -> str:
    remedy = node.target.hardware.host.remedies.get(check.name)
    return f"{node.label}: {check.name}: {problem}" + (f": {remedy}" if remedy else "")


def run_check(check: HostCheck, nodes: list[Node]) -> list[CheckResult]:
    """Run one check on every node; a finding or an unreachable node fails it there."""
    if check.run_all is not None:
        try:
            verdicts = check.run_all(nodes)
        except (CheckFailed, npu_tools.ParseError, OSError, RuntimeError) as exc:
            return [
                CheckResult(check.name, n.label, False, _message(n, check, str(exc))) for n in nodes
            ]
        return [
            CheckResult(
                check.name,
                n.label,
                not verdicts[n.label],
                _message(n, check, f"differs from {nodes[0].label}: {verdicts[n.label]}")
                if verdicts[n.label]
                else "same as node 0",
            )
            for n in nodes
        ]
    results = []
    for node in nodes:
        try:
            results.append(CheckResult(check.name, node.label, True, check.run(node)))
        except (CheckFailed, npu_tools.ParseError, OSError, RuntimeError) as exc:
            results.append(
                CheckResult(check.name, node.label, False, _message(node, check, str(exc)))
            )
    return results


def run_checks(stack: Stack, nodes: list[Node]) -> dict[str, list[CheckResult]]:
    """Every declared check on every node, by check name."""
    return {check.name: run_check(check, nodes) for check in declared_checks(stack)}
