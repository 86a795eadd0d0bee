"""What a twin host of a hardware profile holds: the profile's own Ascend paths, simulated.

Everything that makes the host an Atlas host for the suite is derived from the real catalog
profile — the device nodes its container maps, the sources of its mounts (driver, tools,
npu-smi, hccn.conf, logs, dcmi), the weights path of each model deployed on it — and
filled from the recorded real tool outputs of deploy_helpers/sim/npu/ under one of its
scenarios. What only a real host has is simulated and said so (`TwinSpec.simulated`):
null devices for the NPUs, replayed tools, a /proc/meminfo of the simulated server, a
stand-in model's weights under every model's path.
"""

from __future__ import annotations

import json
import posixpath
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy_helpers.catalog.schema import Catalog, Hardware, Model
from deploy_helpers.paths import PACKAGE
from deploy_helpers.sim.npu.scenarios import SCENARIOS, Scenario, hccn, version_info

ASCEND = "/usr/local/Ascend"
STANDINS = PACKAGE / "sim" / "npu" / "bin"
MARKER = "/etc/ascend-twin.json"  # the twin's own description, read by the suite (ASCEND_TWIN)
# the directories a twin host lays an overlay over: every Ascend path lives below one
OVERLAYS = ("/usr/local", "/etc", "/var/log", "/home", "/opt")
GIB_KB = 1024 * 1024


@dataclass(frozen=True)
class TwinProfile:
    """How the twin simulates one hardware profile's hosts."""

    npu_scenario: str  # the healthy npu stand-in scenario of its hosts
    memory_gib: int  # the simulated server's RAM (/proc/meminfo)
    memory_source: str  # why that figure


TWIN_PROFILES: dict[str, TwinProfile] = {
    "atlas-300i-duo": TwinProfile(
        "duo-healthy",
        512,
        "SIMULATED: a 4-card Atlas 300I Duo inference server with 512 GiB of RAM",
    ),
    "atlas-a2": TwinProfile(
        "a2-healthy", 1024, "SIMULATED: an Atlas 800I A2 server with 1024 GiB of RAM (32 x 32 GiB)"
    ),
}


@dataclass
class HostSpec:
    """The spec deploy_helpers/sim/twin/host_init.py lays a host out from (JSON)."""

    state: str
    pid_file: str
    overlays: list[str] = field(default_factory=lambda: list(OVERLAYS))
    devices: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    binds: dict[str, str] = field(default_factory=dict)
    weights: list[dict[str, str]] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    daemons: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> str:
        """The spec as host_init reads it."""
        return json.dumps(self.__dict__, indent=1)


def profile_devices(hardware: Hardware, scenario: Scenario) -> list[str]:
    """The NPU device nodes a node of the profile has, less the scenario's missing ones."""
    spec = hardware.container
    if spec is None:
        return []
    template = spec.device_template or ""
    devices = [template.format(i=i) for i in range(scenario.devices)] if template else []
    devices += list(spec.devices)
    return [d for d in devices if posixpath.basename(d) not in scenario.missing_devices]


def _wrapper(tool: str, scenario_name: str) -> dict[str, str]:
    """A tool on the twin host: the stand-in replaying the scenario's recorded outputs."""
    text = (
        f"#!/bin/sh\n# ascend twin (SIMULATED): replays recorded real {tool} outputs\n"
        f"NPU_STANDIN_SCENARIO={scenario_name} exec {sys.executable} "
        f'{STANDINS / tool} "$@"\n'
    )
    return {"text": text, "mode": "755"}


def _uname(scenario: Scenario) -> dict[str, str]:
    """`uname -r` as the simulated host's kernel, everything else the real uname."""
    text = (
        "#!/bin/sh\n# ascend twin (SIMULATED): the recorded host's kernel release\n"
        f'if [ "$*" = "-r" ]; then echo {scenario.kernel}; exit 0; fi\n'
        'exec /usr/bin/uname "$@"\n'
    )
    return {"text": text, "mode": "755"}


def hccn_conf(scenario: Scenario) -> str:
    """/etc/hccn.conf from the recorded `hccn_tool -i N -ip -g` addresses."""
    lines = ["# ascend twin (SIMULATED): from the recorded hccn_tool -ip -g outputs"]
    for device in range(scenario.devices):
        pairs = dict(
            line.strip().split(":", 1)
            for line in hccn(scenario, device, "-ip").splitlines()
            if ":" in line
        )
        lines += [
            f"address_{device}={pairs.get('ipaddr', '').strip()}",
            f"netmask_{device}={pairs.get('netmask', '').strip()}",
        ]
    return "\n".join(lines) + "\n"


def meminfo(memory_gib: int, real: str) -> str:
    """/proc/meminfo of a server with `memory_gib` of RAM, most of it available."""
    total = memory_gib * GIB_KB
    values = {"MemTotal": total, "MemFree": int(total * 0.9), "MemAvailable": int(total * 0.92)}
    out = []
    for line in real.splitlines():
        key = line.split(":", 1)[0]
        out.append(f"{key}:{values[key]:>16} kB" if key in values else line)
    return "\n".join(out) + "\n"


def models_on(catalog: Catalog, hardware: Hardware) -> list[Model]:
    """The supported models deployed on the profile (each gets weights on the twin)."""
    return [
        m
        for m in catalog.models.values()
        if m.status == "supported" and any(d.hardware == hardware.name for d in m.deployments)
    ]


def host_spec(
    catalog: Catalog,
    hardware: Hardware,
    scenario_name: str,
    state: Path,
    stand_in_weights: Path,
    twin: dict[str, Any],
) -> HostSpec:
    """The layout of one twin host of `hardware` under npu scenario `scenario_name`."""
    scenario = SCENARIOS[scenario_name]
    profile = TWIN_PROFILES[hardware.name]
    spec = HostSpec(state=str(state), pid_file=str(state / "init.pid"))
    spec.devices = profile_devices(hardware, scenario)
    spec.folders = [
        f"{ASCEND}/driver/lib64",
        f"{ASCEND}/add-ons",
        "/usr/local/dcmi",
        "/var/log/npu/slog",
        "/var/log/npu/profiling",
        "/var/log/npu/dump",
    ]
    spec.files = {
        f"{ASCEND}/driver/version.info": {"text": version_info(scenario, "driver")},
        f"{ASCEND}/firmware/version.info": {"text": version_info(scenario, "firmware")},
        f"{ASCEND}/driver/tools/hccn_tool": _wrapper("hccn_tool", scenario_name),
        "/usr/local/bin/npu-smi": _wrapper("npu-smi", scenario_name),
        "/usr/local/bin/rpm": _wrapper("rpm", scenario_name),
        "/usr/local/bin/uname": _uname(scenario),
        "/etc/hccn.conf": {"text": hccn_conf(scenario)},
        "/etc/ascend_install.info": {
            "text": f"# ascend twin (SIMULATED)\nDriver_Install_Path_Param={ASCEND}\n"
        },
        MARKER: {"text": json.dumps(twin, indent=1)},
    }
    real = Path("/proc/meminfo").read_text()
    (state / "meminfo").write_text(meminfo(profile.memory_gib, real))
    spec.binds = {"/proc/meminfo": str(state / "meminfo")}
    root = hardware.weights_root
    spec.weights = [
        {"target": posixpath.join(root, m.weights_dir or m.name), "lower": str(stand_in_weights)}
        for m in models_on(catalog, hardware)
    ]
    return spec
