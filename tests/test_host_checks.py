"""Every host check passes on a healthy host and fails, naming the cause, on a faulty one.

NPU checks run against the stand-ins of deploy_helpers/sim/npu/ (recorded npu-smi and
hccn_tool outputs, fake version.info and device nodes under a temporary root), through a
real testinfra `local://` host. Local checks (disk, memory, tar, kernel, docker) run for
real on this machine; their faults come from thresholds, PATH and DOCKER_HOST.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import Target, resolve_target
from deploy_helpers.host import checks as host_checks
from deploy_helpers.host import stage as host_stage
from deploy_helpers.host.checks import check_by_name, declared_checks
from deploy_helpers.host.facts import node_facts
from deploy_helpers.host.node import HostPaths, Node, SshSettings
from deploy_helpers.serve.stack import RunOptions, Stack
from deploy_helpers.sim.npu import install
from deploy_helpers.sim.npu.scenarios import SCENARIO_ENV

REPO = Path(__file__).resolve().parent.parent
CATALOG = load_catalog()
DUO_MODEL = "qwen2.5-14b"
A2_MODEL = "deepseek-v3.1-w8a8"


class ScenarioHost:
    """A testinfra host whose commands see their own stand-in scenario (one per node)."""

    def __init__(self, host, scenario: str) -> None:
        self._host, self._scenario = host, scenario

    def run(self, command: str, *args: str):
        """Run with this node's scenario in the environment."""
        return self._host.run(f"env {SCENARIO_ENV}={self._scenario} {command}", *args)

    def __getattr__(self, name: str):
        return getattr(self._host, name)


def target_of(model: str, **model_changes) -> Target:
    """A catalog target, optionally with changed model thresholds."""
    target = resolve_target(CATALOG, model)
    if model_changes:
        target = dataclasses.replace(target, model=target.model.model_copy(update=model_changes))
    return target


def stack_of(
    target: Target,
    node_ips: list[str] | None = None,
    nic: str | None = None,
    weights_root: str | None = None,
) -> Stack:
    """The target planned with these run options (an --endpoint run: nothing is started)."""
    if node_ips is None and target.hardware.nodes > 1:
        node_ips = ["127.0.0.1"] * target.hardware.nodes
    return Stack.plan(
        target,
        RunOptions(
            node_ips=tuple(node_ips or ()),
            nic=nic,
            weights_root=weights_root,
            endpoint="http://127.0.0.1:9",
        ),
    )


def nodes(
    target: Target,
    paths: HostPaths | None = None,
    node_ips: list[str] | None = None,
    nic: str | None = None,
    weights_root: str | None = None,
    scenarios: list[str] | None = None,
) -> list[Node]:
    """Local testinfra nodes for the target's plan (one per node ip)."""
    if node_ips is None and target.hardware.nodes > 1:
        node_ips = ["127.0.0.1"] * target.hardware.nodes
    plans = stack_of(target, node_ips, nic, weights_root).nodes
    local = testinfra.get_host("local://")
    hosts = [ScenarioHost(local, s) for s in scenarios] if scenarios else [local] * len(plans)
    return [Node(h, p, target, paths or HostPaths()) for h, p in zip(hosts, plans, strict=True)]


def run(check: str, node_list: list[Node]) -> list[host_checks.CheckResult]:
    """One check on the nodes."""
    return host_checks.run_check(check_by_name(check), node_list)


def assert_passes(results: list[host_checks.CheckResult]) -> None:
    """Every node passed."""
    assert results and all(r.ok for r in results), [r.message for r in results]


def assert_fails(results: list[host_checks.CheckResult], *causes: str) -> str:
    """Some node failed with a message naming every cause; returns the messages."""
    text = "\n".join(r.message for r in results if not r.ok)
    assert text, f"expected a failure, all passed: {[r.message for r in results]}"
    for cause in causes:
        assert cause in text, f"{cause!r} not in {text!r}"
    return text


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a stand-in scenario on this host's PATH; returns its paths."""

    def use(scenario: str) -> HostPaths:
        host = install(tmp_path / scenario, scenario)
        for key, value in host.env.items():
            monkeypatch.setenv(key, value)
        return host.paths

    return use


# --------------------------------------------------------------------------- NPU checks

CUT_DUO = "npu-smi info table ends after NPU 32768: no process section"
NPU_CASES = [
    # check, model, faulty scenario, causes the message must name
    (
        "npu_driver",
        DUO_MODEL,
        "duo-wrong-driver",
        [
            "driver 23.0.3 on NPU 0 (Software Version)",
            "recommends driver 24.1.rc3",
            "seed 000 §3.1",
        ],
    ),
    ("npu_driver", DUO_MODEL, "duo-stale-driver-file", ["24.1.rc2.2 on", "driver/version.info"]),
    (
        "npu_firmware",
        DUO_MODEL,
        "duo-wrong-firmware",
        [
            "firmware 7.1.0.6.220 on NPU 0",
            "7.1.0.6.220 on NPU 96 (Firmware Version)",
            "recommends firmware 7.5.0.1.129",
            "firmware/version.info",
        ],
    ),
    (
        "chip_family",
        DUO_MODEL,
        "duo-wrong-chip",
        [
            "NPU 0 chip 0 fits no known chip family",
            "Name 310P1",
            "8 of 8 chips so",
            "needs Ascend 310P3",
        ],
    ),
    (
        "chip_family",
        DUO_MODEL,
        "a2-healthy",
        [
            "NPU 0 chip 0 is Ascend 910B (Atlas A2)",
            "Name 910B3",
            "PCI Device ID 0xD802",
            "not an Atlas 300I Duo",
        ],
    ),
    (
        "chip_family",
        A2_MODEL,
        "duo-healthy",
        [
            "is Ascend 310P3 (Atlas 300I Duo / 300I Pro)",
            "no HBM column",
            "needs Ascend 910B (Atlas A2)",
        ],
    ),
    (
        "chip_family",
        A2_MODEL,
        "a2-first-gen-910b",
        [
            "NPU 0 chip 0 is first-generation Ascend 910",
            "Name 910B",
            "Memory-Usage 4252/15137 MB",
            "HBM 32768 MB",
            "PCI Device ID 0xD801",
            "board Chip Name 910B",
            "needs Ascend 910B (Atlas A2)",
        ],
    ),
    (
        "npu_count",
        DUO_MODEL,
        "duo-too-few-npus",
        [
            "2 chips on 1 NPUs in npu-smi info",
            "needs 4 chips per node (TP 4 x DP 1 over 1 node(s)",
            "not NPU cards",
            "seed 000 §2.C",
        ],
    ),
    (
        "npu_count",
        A2_MODEL,
        "a2-cut-after-npu-3",
        ["npu-smi info table ends after NPU 3: no process section"],
    ),
    ("npu_health", DUO_MODEL, "duo-chip-alarm", ["NPU 96 chip 1 Alarm"]),
    ("npu_health", DUO_MODEL, "duo-chip-error", ["NPU 32768 chip 1 Error", "accepted: OK"]),
    ("npu_health", DUO_MODEL, "duo-chip-upper-alarm", ["NPU 0 chip 0 ALARM"]),
    ("npu_health", A2_MODEL, "a2-chip-critical", ["NPU 6 chip 0 Critical"]),
    ("npu_health", A2_MODEL, "a2-chip-abnormal", ["NPU 2 chip 0 Abnormal"]),
    ("npu_health", A2_MODEL, "a2-cut-after-npu-3", ["table ends after NPU 3"]),
    (
        "npu_processes",
        DUO_MODEL,
        "duo-busy",
        [
            "3 processes already hold NPU chips before bring-up",
            "PID 326429 (no name shown) 33842 MB on NPU 0 chip 0",
            "PID 326430 (no name shown) 34086 MB on NPU 0 chip 1",
            "stop the named processes",
        ],
    ),
    (
        "npu_processes",
        A2_MODEL,
        "a2-busy",
        ["16 processes already hold NPU chips before bring-up", "PID 2698909", "and 12 more"],
    ),
    *[
        (check, DUO_MODEL, "duo-cut-before-alarm-card", [CUT_DUO])
        for check in (
            "npu_driver",
            "npu_firmware",
            "chip_family",
            "npu_count",
            "npu_health",
            "npu_processes",
        )
    ],
    ("device_nodes", DUO_MODEL, "duo-missing-device", ["davinci3", "hisi_hdc", "seed 000 §4"]),
    (
        "kernel_version",
        DUO_MODEL,
        "duo-wrong-kernel",
        ["kernel 4.19.90-2107.6.0.0100.oe1.aarch64 (uname -r) is not 5.10.x", "seed 000 §3.1.1"],
    ),
    (
        "kernel_packages",
        DUO_MODEL,
        "duo-no-kernel-devel",
        [
            "kernel-devel-5.10.0-60.18.0.50.oe2203.aarch64",
            "not installed (rpm",
            "install kernel-devel-$(uname -r)",
            "seed 000 §3.1.1",
        ],
    ),
]


def _healthy_for(model: str) -> str:
    return "a2-healthy" if model == A2_MODEL else "duo-healthy"


def _ips(model: str) -> list[str] | None:
    return ["127.0.0.1", "127.0.0.1"] if model == A2_MODEL else None


@pytest.mark.parametrize("check", sorted({c[0] for c in NPU_CASES}))
def test_npu_check_passes_on_healthy_host(standin, check: str) -> None:
    for model in (DUO_MODEL, A2_MODEL):
        target = target_of(model)
        if check not in {c.name for c in declared_checks(stack_of(target))}:
            continue
        paths = standin(_healthy_for(model))
        assert_passes(run(check, nodes(target, paths, node_ips=_ips(model))))


@pytest.mark.parametrize(
    ("check", "model", "scenario", "causes"),
    NPU_CASES,
    ids=[f"{c[0]}-{c[1][:5]}-{c[2]}" for c in NPU_CASES],
)
def test_npu_check_fails_naming_the_cause(
    standin, check: str, model: str, scenario: str, causes: list[str]
) -> None:
    paths = standin(scenario)
    assert_fails(run(check, nodes(target_of(model), paths, node_ips=_ips(model))), *causes)


@pytest.mark.parametrize("scenario", ["a2-healthy", "a2-26x-wide"])
def test_a2_checks_pass_on_the_classic_and_26x_layouts(standin, scenario: str) -> None:
    target = target_of(A2_MODEL)
    paths = standin(scenario)
    for check in ("npu_count", "npu_health", "chip_family", "npu_processes"):
        assert_passes(run(check, nodes(target, paths, node_ips=_ips(A2_MODEL))))


def test_processes_pass_with_endpoint_when_the_profile_allows_the_engine(standin) -> None:
    target = target_of(DUO_MODEL)
    (node,) = nodes(target, standin("duo-busy"))
    node.endpoint = "http://127.0.0.1:8000"
    [result] = run("npu_processes", [node])
    assert result.ok and "3 processes hold chips, allowed with --endpoint" in result.message
    strict = dataclasses.replace(
        target,
        hardware=target.hardware.model_copy(
            update={
                "host": target.hardware.host.model_copy(update={"npu_processes_allowed": "none"})
            }
        ),
    )
    (node,) = nodes(strict, standin("duo-busy"))
    node.endpoint = "http://127.0.0.1:8000"
    assert_fails(
        run("npu_processes", [node]),
        "3 processes already hold NPU chips with --endpoint (the profile allows none)",
    )


def test_host_stage_tells_the_nodes_about_endpoint(standin, monkeypatch) -> None:
    paths = standin("duo-busy")
    stack = stack_of(target_of(DUO_MODEL))
    monkeypatch.setattr(host_stage, "connect", lambda address, ssh: testinfra.get_host("local://"))
    report = host_stage.check_hosts(stack, SshSettings(), paths)
    assert [n.endpoint for n in report.nodes] == ["http://127.0.0.1:9"]
    assert all(r.ok for r in report.results["npu_processes"])


def test_accepted_health_is_catalog_data(standin) -> None:
    target = target_of(A2_MODEL)
    host = target.hardware.host.model_copy(update={"accepted_npu_health": ["OK", "Warning"]})
    target = dataclasses.replace(
        target, hardware=target.hardware.model_copy(update={"host": host, "chip_family": None})
    )
    paths = standin("a2-first-gen-910b")  # its recording has Warning on NPUs 3 and 7
    assert_passes(run("npu_health", nodes(target, paths, node_ips=_ips(A2_MODEL))))


def test_node_facts_read_npu_and_chip_counts_and_versions(standin) -> None:
    (node,) = nodes(target_of(DUO_MODEL), standin("duo-healthy"))
    facts = node_facts(node)
    assert facts["chip"] == "310P3" and (facts["npu_count"], facts["chip_count"]) == (4, 8), facts
    assert facts["driver"] == "24.1.rc3" and facts["firmware"] == "7.5.0.1.129", facts
    assert facts["kernel"] and facts["os"], facts


def test_node_facts_name_what_was_unreadable(tmp_path: Path) -> None:
    (node,) = nodes(target_of(DUO_MODEL), HostPaths(str(tmp_path / "no-ascend"), "/dev"))
    facts = node_facts(node)
    assert (
        facts["driver"].startswith("unreadable (CheckFailed:") and "version.info" in facts["driver"]
    ), facts


def test_missing_npu_smi_fails_every_npu_check(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")  # no npu-smi here
    node_list = nodes(target_of(DUO_MODEL))
    for check in ("npu_driver", "chip_family", "npu_count", "npu_health", "npu_processes"):
        assert_fails(run(check, node_list), "`npu-smi info` failed")


# --------------------------------------------------------------------------- two nodes

TWO_LOCAL = ["127.0.0.1", "127.0.0.1"]


@pytest.mark.parametrize("check", ["nic", "hccl_if_ip", "hccn_link", "hccn_net_health", "hccn_tls"])
def test_network_check_passes_on_healthy_nodes(standin, check: str) -> None:
    paths = standin("a2-healthy")
    node_list = nodes(
        target_of(A2_MODEL), paths, TWO_LOCAL, nic="lo", scenarios=["a2-healthy", "a2-healthy"]
    )
    assert_passes(run(check, node_list))


NETWORK_CASES = [
    # check, node ips, nic, scenario per node, causes
    (
        "nic",
        TWO_LOCAL,
        None,
        ["a2-healthy"] * 2,
        ["network interface enp67s0f0np0 not found", "seed 003 §4"],
    ),
    (
        "hccl_if_ip",
        ["127.0.0.1", "10.99.0.2"],
        "lo",
        ["a2-healthy"] * 2,
        [
            "node 1 (10.99.0.2): hccl_if_ip: HCCL_IF_IP 10.99.0.2 is not an address of lo",
            "seed 003 §4.1/§4.2",
        ],
    ),
    (
        "hccn_link",
        TWO_LOCAL,
        "lo",
        ["a2-healthy", "a2-link-down"],
        ["node 1 (127.0.0.1): hccn_link", "NPU 5 DOWN (wanted UP)"],
    ),
    (
        "hccn_net_health",
        TWO_LOCAL,
        "lo",
        ["a2-net-health-fault", "a2-healthy"],
        ["node 0 (127.0.0.1): hccn_net_health", "NPU 2 Fault (wanted Success)"],
    ),
    (
        "hccn_tls",
        TWO_LOCAL,
        "lo",
        ["a2-healthy", "a2-tls-on"],
        [
            "node 1 (127.0.0.1): hccn_tls: differs from node 0",
            "'tls switch': '1'",
            "'tls switch': '0'",
        ],
    ),
]


@pytest.mark.parametrize(
    ("check", "ips", "nic", "scenarios", "causes"), NETWORK_CASES, ids=[c[0] for c in NETWORK_CASES]
)
def test_network_check_fails_naming_the_cause(
    standin,
    check: str,
    ips: list[str],
    nic: str | None,
    scenarios: list[str],
    causes: list[str],
) -> None:
    paths = standin("a2-healthy")
    node_list = nodes(target_of(A2_MODEL), paths, ips, nic=nic, scenarios=scenarios)
    assert_fails(run(check, node_list), *causes)


# --------------------------------------------------------------------------- this machine


def test_tar_found_for_real() -> None:
    assert_passes(run("required_commands", nodes(target_of(DUO_MODEL))))


def test_tar_missing_from_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert_fails(
        run("required_commands", nodes(target_of(DUO_MODEL))),
        "tar not found on PATH",
        "install tar",
        "seed 000 FAQ 6.1",
    )


def test_kernel_rule_and_packages_fail_on_this_machine_for_real() -> None:
    release = os.uname().release
    node_list = nodes(target_of(DUO_MODEL))
    assert_fails(run("kernel_version", node_list), f"kernel {release} (uname -r) is not 5.10.x")
    manager = "rpm" if shutil.which("rpm") else "dpkg"
    assert_fails(
        run("kernel_packages", node_list), f"kernel-devel-{release}", f"not installed ({manager}"
    )


def test_kernel_rule_passes_for_this_machines_kernel() -> None:
    release = os.uname().release
    target = target_of(DUO_MODEL)
    drivers = target.hardware.drivers.model_copy(update={"kernel_prefix": release.split("-")[0]})
    target = dataclasses.replace(
        target, hardware=target.hardware.model_copy(update={"drivers": drivers})
    )
    assert_passes(run("kernel_version", nodes(target)))


def test_disk_space_for_real(tmp_path: Path) -> None:
    root = str(tmp_path / "weights")  # missing yet: its nearest existing parent is measured
    assert_passes(run("disk_space", nodes(target_of("qwen2.5-3b"), weights_root=root)))
    huge = target_of("qwen2.5-3b", disk_gib=10.0**7)
    assert_fails(
        run("disk_space", nodes(huge, weights_root=root)),
        f"GiB free at {tmp_path}",
        "qwen2.5-3b needs 1e+07 GiB",
        "seed 000 §2.A",
    )


def test_seed_disk_rule_for_14b() -> None:
    assert host_checks.disk_needed_gib(target_of(DUO_MODEL)) == 30  # seed 000 §2.A


def test_memory_for_real() -> None:
    assert_passes(run("memory", nodes(target_of("qwen2.5-3b"))))
    huge = target_of("qwen2.5-3b", weights_gib=10.0**6)
    assert_fails(
        run("memory", nodes(huge)),
        "need 1300000.0 GiB",
        "1e+06 GiB weights / 1 node(s) x 1.3",
        "seed 000 §2.B",
    )


def test_memory_rule_divides_by_nodes() -> None:
    assert host_checks.memory_needed_gib(target_of(A2_MODEL)) == pytest.approx(660 / 2 * 1.3)


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str | None]:
    """A reachable Docker engine: the machine's, else a private dockerd for this module."""
    probe = ["docker", "version", "--format", "{{.Server.Version}}"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        yield os.environ.get("DOCKER_HOST")
        return
    root = Path(tempfile.mkdtemp(prefix="dk"))
    sock = f"unix://{root}/d.sock"
    with (root / "log").open("w") as log:
        proc = subprocess.Popen(
            [
                "dockerd",
                "--host",
                sock,
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "x"),
                "--pidfile",
                str(root / "pid"),
                "--bridge=none",
                "--iptables=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        env = {**os.environ, "DOCKER_HOST": sock}
        while subprocess.run(probe, capture_output=True, env=env).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, (root / "log").read_text()
            time.sleep(0.5)
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def test_docker_engine_reachable(docker_host: str | None, monkeypatch) -> None:
    if docker_host:
        monkeypatch.setenv("DOCKER_HOST", docker_host)
    assert_passes(run("docker_engine", nodes(target_of(DUO_MODEL))))


def test_docker_engine_unreachable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert_fails(
        run("docker_engine", nodes(target_of(DUO_MODEL))),
        "`docker version --format {{.Server.Version}}` failed",
        "no-engine.sock",
        "start the Docker engine",
    )


# --------------------------------------------------------------------------- declarations


def test_profiles_declare_their_checks() -> None:
    names = {
        m: [c.name for c in declared_checks(stack_of(target_of(m)))]
        for m in (DUO_MODEL, A2_MODEL, "smollm2-135m")
    }
    assert names["smollm2-135m"] == ["disk_space", "memory"]  # process launcher: no docker
    assert {
        "npu_driver",
        "npu_firmware",
        "kernel_version",
        "kernel_packages",
        "docker_engine",
        "device_nodes",
        "required_commands",
    } <= set(names[DUO_MODEL])
    assert not {"nic", "hccn_link"} & set(names[DUO_MODEL])
    # seed 003 names no driver/firmware/kernel: the A2 profile declares none of those checks
    assert {"nic", "hccl_if_ip", "hccn_link", "hccn_net_health", "hccn_tls", "npu_health"} <= set(
        names[A2_MODEL]
    )
    assert not {"npu_driver", "kernel_version"} & set(names[A2_MODEL])


def test_every_npu_profile_check_has_a_remedy() -> None:
    for model in (DUO_MODEL, A2_MODEL, "smollm2-135m"):
        target = target_of(model)
        missing = [
            c.name
            for c in declared_checks(stack_of(target))
            if c.name not in target.hardware.host.remedies
        ]
        assert not missing, f"{target.hardware.name}: no remedy for {missing}"


# --------------------------------------------------------------------------- the suite


def run_host_suite(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`pytest suites/test_host.py ARGS` in a subprocess with `env` added."""
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "suites/test_host.py",
        "-p",
        "no:cacheprovider",
        "-q",
        "-o",
        "addopts=",
        "--junitxml",
        os.devnull,
        *args,
    ]
    return subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )


def _standin_args(tmp_path: Path, scenario: str) -> tuple[dict[str, str], list[str]]:
    host = install(tmp_path, scenario)
    (tmp_path / "weights").mkdir(exist_ok=True)  # --weights-root must name a folder
    return host.env, [
        "--ascend-root",
        host.paths.ascend_root,
        "--dev-root",
        host.paths.dev_root,
        "--weights-root",
        str(tmp_path / "weights"),
    ]


def test_suite_passes_on_healthy_300i_duo(tmp_path: Path, docker_host: str | None) -> None:
    env, args = _standin_args(tmp_path, "duo-healthy")
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    done = run_host_suite(env, "--model", "qwen2.5-3b", *args)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "14 passed" in done.stdout


def test_suite_fails_only_the_faulty_check(tmp_path: Path, docker_host: str | None) -> None:
    env, args = _standin_args(tmp_path, "duo-wrong-firmware")
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    done = run_host_suite(env, "--model", "qwen2.5-3b", *args)
    assert done.returncode == 1
    assert "1 failed, 13 passed" in done.stdout, done.stdout[-3000:]
    assert (
        "FAILED suites/test_host.py::test_host_check[qwen2.5-3b@atlas-300i-duo-npu_firmware]"
        in done.stdout
    )
    assert "firmware 7.1.0.6.220 on NPU 0" in done.stdout


def test_suite_two_nodes_network_checks(tmp_path: Path) -> None:
    env, args = _standin_args(tmp_path, "a2-link-down")
    done = run_host_suite(
        env,
        "--model",
        A2_MODEL,
        "--node-ip",
        "127.0.0.1",
        "--node-ip",
        "127.0.0.1",
        "--nic",
        "lo",
        "-k",
        "hccn or nic or hccl",
        *args,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 failed, 4 passed" in done.stdout, done.stdout[-3000:]
    for node in ("node 0 (127.0.0.1)", "node 1 (127.0.0.1)"):  # both replay a2-link-down
        assert f"{node}: hccn_link: hccn_tool -link link status: NPU 5 DOWN" in done.stdout


def test_suite_two_nodes_need_node_ips(tmp_path: Path) -> None:
    env, args = _standin_args(tmp_path, "a2-healthy")
    done = run_host_suite(env, "--model", A2_MODEL, "-k", "npu_health", *args)
    assert done.returncode == 4, done.stdout[-2000:]  # a usage error, before any stage runs
    assert done.stderr.strip() == (
        "ERROR: deepseek-v3.1-w8a8@atlas-a2 runs on 2 node(s): pass "
        "--node-ip once per node, node 0 first (got 0)"
    )


def test_embedded_cpu_target_runs_disk_and_memory_only() -> None:
    done = run_host_suite({}, "--model", "smollm2-135m", "-rA")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "PASSED suites/test_host.py::test_host_check[smollm2-135m@cpu-disk_space]" in done.stdout
    assert "PASSED suites/test_host.py::test_host_check[smollm2-135m@cpu-memory]" in done.stdout
    assert "2 passed" in done.stdout and "skipped" not in done.stdout


def test_host_stage_gates_the_service(tmp_path: Path) -> None:
    env, args = _standin_args(tmp_path, "duo-chip-alarm")
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "suites/test_completions.py",
        "-p",
        "no:cacheprovider",
        "-q",
        "-x",
        "-o",
        "addopts=",
        "--junitxml",
        os.devnull,
        "--model",
        "qwen2.5-3b",
        *args,
    ]
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert (
        "host stage: " in done.stdout
        and "npu_health: npu-smi health NPU 96 chip 1 Alarm" in done.stdout
    )


def test_endpoint_mode_without_nodes_deselects_host_checks_and_says_why(faulty_server) -> None:
    done = run_host_suite({}, "--model", "smollm2-135m", "--endpoint", faulty_server.base_url)
    assert done.returncode == 5  # nothing left to run
    assert "2 host checks deselected: --endpoint without --node-ip" in done.stdout
