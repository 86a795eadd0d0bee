"""Stand-ins for the NPU host tools, installed on a real host's PATH for a test.

`npu-smi`, `hccn_tool`, `uname -r` and `rpm -q` in bin/ replay recorded outputs of real
Atlas hosts (recordings/) for the scenario named by NPU_STANDIN_SCENARIO; `install`
writes the files a driver install leaves (version.info) and the device nodes under a
temporary root, so checks run against them through their configurable paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deploy_helpers.host.node import HostPaths
from deploy_helpers.sim.npu.scenarios import SCENARIO_ENV, SCENARIOS, version_info

BIN = Path(__file__).resolve().parent / "bin"
DRIVER_NODES = ("davinci_manager", "devmm_svm", "hisi_hdc")


@dataclass(frozen=True)
class StandinHost:
    """A simulated NPU host: the environment to run checks in and its paths."""

    env: dict[str, str]
    paths: HostPaths


def install(root: Path, scenario: str) -> StandinHost:
    """Lay out `scenario` under `root`; the returned env puts the stand-ins first on PATH."""
    s = SCENARIOS[scenario]
    for part in ("driver", "firmware"):
        folder = root / "Ascend" / part
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "version.info").write_text(version_info(s, part))
    dev = root / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    for name in [f"davinci{i}" for i in range(s.devices)] + list(DRIVER_NODES):
        if name not in s.missing_devices:
            (dev / name).touch()
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", SCENARIO_ENV: scenario}
    return StandinHost(env, HostPaths(ascend_root=str(root / "Ascend"), dev_root=str(dev)))
