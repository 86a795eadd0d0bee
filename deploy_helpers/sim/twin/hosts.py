"""Twin hosts of a hardware profile: namespace hosts that look like its Atlas nodes.

`twin(profile, scenario)` makes the profile's nodes as testbed hosts (a network namespace
each, with sshd, the profile's NIC name and, for container profiles, a Docker engine of
its own) and runs each host's daemons in a private mount namespace laid out by
`host_init` from `layout.host_spec`: the profile's device nodes, driver files, tools and
weights paths exist there and nowhere else. `run_on_head` runs a command on node 0 the
way a user logged in there would: in both of its namespaces, with its Docker engine and
the twin's ssh config. On exit every process, mount, namespace and folder is gone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.schema import Catalog, Hardware
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.errors import SuiteError
from deploy_helpers.paths import REPO_ROOT
from deploy_helpers.serve.plan import weights_path
from deploy_helpers.serve.remote import SSH_CONFIG_ENV
from deploy_helpers.sim.testbed import Daemon, testbed
from deploy_helpers.sim.twin.layout import MARKER, TWIN_PROFILES, host_spec, models_on
from deploy_helpers.sim.twin.marker import TWIN_ENV
from deploy_helpers.sim.twin.scenarios import TwinScenario, scenario
from deploy_helpers.sim.twin.weights import STAND_IN_BY_NODES


@dataclass(frozen=True)
class Twin:
    """Running twin hosts: their addresses, node 0's init pid and environment."""

    profile: str
    scenario: str
    addresses: list[str]
    head_pid: int
    env: dict[str, str]
    description: dict[str, Any]


def description(hardware: Hardware, chosen: TwinScenario, stand_in: str) -> dict[str, Any]:
    """What the twin simulates, for the suite's SIMULATED banner and fingerprint."""
    profile = TWIN_PROFILES[hardware.name]
    return {
        "simulated": True,
        "profile": hardware.name,
        "scenario": chosen.name,
        "scenario_description": chosen.description,
        "stand_in": stand_in,
        "simulated_parts": [
            f"hosts: {hardware.nodes} network namespace(s) with sshd; Ascend paths in a "
            "private mount namespace each",
            "NPU devices: /dev/davinci* and the driver nodes are null devices",
            "npu-smi, hccn_tool, uname -r, rpm: stand-ins replaying recorded real outputs "
            "(deploy_helpers/sim/npu/recordings)",
            f"host memory: {profile.memory_source}",
            f"engine: {hardware.serve.engine} shim in the image over vLLM CPU (tensor "
            "parallel folded to 1, graph modes simulated, eager underneath)",
            f"weights: {stand_in} under every model's weights path",
        ],
    }


def _weights_command(catalog: Catalog, hardware: Hardware, chosen: TwinScenario) -> list[str]:
    """The command that makes the stand-in's weights each model's, as the guides say:
    float16 in config.json on the 300I Duo (seed 000 §2.1), a w8a8 description on the A2."""
    actions = []
    for model in models_on(catalog, hardware):
        root = weights_path(resolve_target(catalog, model.name, hardware.name))
        actions.append(f"{root}:describe={model.name}")
        if model.quantization == "w8a8":
            actions.append(f"{root}:w8a8")
        if hardware.dtypes == ["float16"] and not chosen.bf16_config:
            actions.append(f"{root}:float16")
    return [sys.executable, "-m", "deploy_helpers.sim.twin.weights", *actions]


def _port_holder(port: int) -> list[str]:
    """A process that holds `port` on every interface and answers nothing."""
    code = (
        "import socket, time\ns = socket.socket()\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('0.0.0.0', {port}))\ns.listen()\ntime.sleep(10**9)\n"
    )
    return [sys.executable, "-c", code]


def _wait_for_pid(path: Path, proc: subprocess.Popen, log: Path) -> int:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text())
        if proc.poll() is not None:
            said = log.read_text(errors="replace").strip().splitlines() or ["no output"]
            raise SuiteError(f"twin host did not come up: {said[-1]} (see {log})")
        time.sleep(0.2)
    raise SuiteError(f"twin host not ready after 180 s (see {log})")


@contextmanager
def twin(
    profile: str,
    scenario_name: str = "healthy",
    name: str = "asct",
    subnet: str = "10.242.0",
    with_image: bool = True,
) -> Iterator[Twin]:
    """Make the twin hosts of `profile` under `scenario_name`; always delete them.

    `with_image=False` leaves the pulled image out of the nodes' engines (faster, for runs
    that stop before the container stage)."""
    catalog = load_catalog()
    if profile not in TWIN_PROFILES:
        raise SuiteError(f"no twin of '{profile}' (twins: {', '.join(TWIN_PROFILES)})")
    hardware = catalog.hardware[profile]
    chosen = scenario(scenario_name, profile)
    stand_in = resolve_target(catalog, *STAND_IN_BY_NODES[hardware.nodes])
    stand_in_weights = Path(weights_path(stand_in))
    if not stand_in_weights.is_dir():
        raise SuiteError(
            f"{stand_in_weights}: the twin serves the embedded model's weights: "
            "run ./setup.sh first"
        )
    about = description(hardware, chosen, stand_in.id)
    prepare_weights = _weights_command(catalog, hardware, chosen)
    state_root = Path(tempfile.mkdtemp(prefix=f"{name}-twin-"))
    pids: dict[int, int] = {}

    def runner(index: int, namespace: str, daemons: list[Daemon]) -> Callable[[], None]:
        state = state_root / f"node{index}"
        state.mkdir(parents=True)
        npu = chosen.npu.get(index, TWIN_PROFILES[profile].npu_scenario)
        spec = host_spec(catalog, hardware, npu, state, stand_in_weights, about)
        spec.commands = [prepare_weights]
        spec.daemons = [
            {"argv": _with_runtime(d.argv, state), "log": str(d.log), "env": d.env} for d in daemons
        ]
        if chosen.port_taken and index == 0:
            spec.daemons.append(
                {
                    "argv": _port_holder(hardware.serve.default_port),
                    "log": str(state / "port-holder.log"),
                }
            )
        (state / "spec.json").write_text(spec.as_json())
        log = state / "init.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    "nsenter",
                    f"--net=/run/netns/{namespace}",
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    sys.executable,
                    "-m",
                    "deploy_helpers.sim.twin.host_init",
                    str(state / "spec.json"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO_ROOT,
            )
        pids[index] = _wait_for_pid(Path(spec.pid_file), proc, log)

        def stop() -> None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

        return stop

    images = _preloaded_images(hardware, chosen, with_image)
    with ExitStack() as undo:
        undo.callback(shutil.rmtree, state_root, ignore_errors=True)
        bed = undo.enter_context(
            testbed(
                hardware.nodes,
                name,
                subnet,
                nic=hardware.host.nic or "tb0",
                docker_images=images,
                runner=runner,
            )
        )
        env = {SSH_CONFIG_ENV: str(bed.ssh_config), TWIN_ENV: MARKER}
        if bed.docker_hosts[0]:
            env["DOCKER_HOST"] = bed.docker_hosts[0]
        yield Twin(profile, chosen.name, bed.addresses, pids[0], env, about)


RUNTIME = "twin-runc"


def _with_runtime(argv: list[str], state: Path) -> list[str]:
    """A dockerd argv running containers through runc_caps (the seeds' --privileged needs
    capabilities this machine may lack); any other daemon's argv unchanged."""
    if Path(argv[0]).name != "dockerd":
        return argv
    runtime = state / RUNTIME
    runtime.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from deploy_helpers.sim.twin.runc_caps import main\nmain()\n"
    )
    runtime.chmod(0o755)
    return [*argv, "--add-runtime", f"{RUNTIME}={runtime}", "--default-runtime", RUNTIME]


def _preloaded_images(
    hardware: Hardware, chosen: TwinScenario, with_image: bool
) -> list[str] | None:
    """Images each node's engine holds from the start (None: the profile runs no container).

    The 300I Duo guide pulls its image (seed 000 §4), so the twin's engine has it, unless
    the scenario says it was never pulled; the A2 guide loads a tarball on each node (seed
    003 §2), which the suite's container stage does itself: those engines start empty.
    """
    spec = hardware.container
    if spec is None:
        return None
    if chosen.image_absent or spec.image_tarball or not with_image:
        return []
    return [spec.image[os.uname().machine]]


def run_on_head(twin_hosts: Twin, argv: list[str]) -> subprocess.Popen:
    """Start `argv` on node 0 as a user logged in there: in its mount and network
    namespaces, with its Docker engine and the twin's ssh config in the environment."""
    return subprocess.Popen(
        [
            "nsenter",
            f"--target={twin_hosts.head_pid}",
            "--mount",
            "--net",
            f"--wd={os.getcwd()}",
            "--",
            *argv,
        ],
        env={**os.environ, **twin_hosts.env},
    )
