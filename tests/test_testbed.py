"""Two hosts for real: namespace nodes with their own address and sshd, services started over ssh.

The suite's multi-node path (`cpu-two-node`: node 0 serves, node 1 joins headless; and
`cpu-two-node-container`: the same in a container on each node's own Docker engine) runs
here with tests/faulty_server.py as the engine on both nodes; the real vLLM data-parallel
runs across the two hosts are in CI (`.ci/run`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
import yaml

from deploy_helpers.errors import SuiteError
from deploy_helpers.serve import remote
from deploy_helpers.sim.testbed import existing, namespace_pids
from deploy_helpers.sim.testbed import testbed as make_testbed
from tests.test_secrets import PLANTED

REPO = Path(__file__).resolve().parent.parent


def _subnet(slot: int) -> str:
    """A /24 per test and xdist worker, so parallel tests never share a bridge or address."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return f"10.241.{100 + 20 * int(worker or 0) + slot}"


def _name(slot: int) -> str:
    return f"tt{os.getpid() % 100000}{slot}"


def sshd_processes(work_prefix: str) -> list[int]:
    """Pids of sshd processes whose config lives in a testbed work dir `work_prefix`*."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            # sshd retitles itself "sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] ..."
            if b"sshd" in cmdline and f" /tmp/{work_prefix}-".encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_nodes_have_their_own_address_and_reach_each_other() -> None:
    name, subnet = _name(1), _subnet(1)
    with make_testbed(2, name, subnet) as bed:
        env = {remote.SSH_CONFIG_ENV: str(bed.ssh_config)}
        os.environ.update(env)
        try:
            for address in bed.addresses:
                done = remote.run(address, ["ip", "-o", "-4", "addr", "show", bed.nic])
                assert done.returncode == 0, done.stderr
                assert f"inet {address}/24" in done.stdout
            # node 0 opens a TCP connection to node 1's sshd across the bridge
            probe = f"exec 3<>/dev/tcp/{bed.addresses[1]}/22 && head -c 7 <&3"
            done = remote.run(bed.addresses[0], ["bash", "-c", probe])
            assert done.stdout.endswith("SSH-2.0"), (done.stdout, done.stderr)
        finally:
            os.environ.pop(remote.SSH_CONFIG_ENV)
        assert sshd_processes(name)
    assert existing(name) == [], "namespaces or links left behind"
    assert sshd_processes(name) == [], "sshd left running"


def test_error_inside_still_deletes_everything() -> None:
    name = _name(2)
    with pytest.raises(RuntimeError), make_testbed(2, name, _subnet(2)):
        raise RuntimeError("a failing stage")
    assert existing(name) == []
    assert sshd_processes(name) == []


def test_sigterm_deletes_everything(tmp_path: Path) -> None:
    name = _name(3)
    script = (
        "import time\nfrom deploy_helpers.sim.testbed import testbed\n"
        f"with testbed(2, {name!r}, {_subnet(3)!r}):\n"
        "    print('up', flush=True)\n    time.sleep(300)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout.readline().strip() == "up"
    assert existing(name)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert existing(name) == []
    assert sshd_processes(name) == []


def test_existing_testbed_is_a_one_line_error() -> None:
    name = _name(4)
    with make_testbed(1, name, _subnet(4)):
        with pytest.raises(SuiteError, match="already exists"), make_testbed(1, name, _subnet(5)):
            pass
        assert existing(name)
    assert existing(name) == []


def _namespace_cmdlines(namespace: str) -> list[bytes]:
    """Command lines of the processes in `namespace`, skipping any that exit meanwhile."""
    cmdlines = []
    for pid in namespace_pids(namespace):
        with suppress(FileNotFoundError, ProcessLookupError):
            cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
    return cmdlines


def test_remote_service_group_is_stopped_and_env_stays_off_argv() -> None:
    with make_testbed(1, _name(6), _subnet(6)) as bed:
        os.environ[remote.SSH_CONFIG_ENV] = str(bed.ssh_config)
        log = Path(f"/tmp/{bed.name}-remote.log")
        try:
            # a service with a child process of its own, as vLLM's engine is
            argv = ["sh", "-c", 'echo "key=$API_KEY"; sleep 300 & sleep 300']
            with remote.running_remote(
                bed.addresses[0], argv, {"API_KEY": "s3cret v"}, log
            ) as proc:
                time.sleep(1)
                assert proc.alive()
                cmdlines = _namespace_cmdlines(bed.namespaces[0])
                assert any(b"sleep" in c for c in cmdlines)
                assert not any(b"s3cret" in c for c in cmdlines), "secret in a remote argv"
            assert b"key=s3cret v" in log.read_bytes()
            assert not proc.alive()
            left = [c for c in _namespace_cmdlines(bed.namespaces[0]) if b"sleep" in c]
            assert left == [], "the remote service's children outlived it"
        finally:
            os.environ.pop(remote.SSH_CONFIG_ENV)
            log.unlink(missing_ok=True)


def serve_faulty_server_on_each_node(catalog: Path, profile_name: str) -> None:
    """Swap the engine of a two-node profile in `catalog` for the faulty server."""
    profile_yaml = catalog / "hardware" / f"{profile_name}.yaml"
    profile = yaml.safe_load(profile_yaml.read_text())
    serve = profile.setdefault("serve", {})  # a profile that `extends` may have none of its own
    serve["command"] = ["{python}", "-m", "tests.faulty_server"]
    serve["env"] = {"PYTHONPATH": "{repo}"}
    serve["readiness_timeout_s"] = 60
    serve["worker_join_log"] = "Enforce eager"  # what the faulty server prints
    profile_yaml.write_text(yaml.safe_dump(profile, sort_keys=False))


@pytest.fixture
def two_node_catalog(fake_engine_catalog) -> Path:
    """The catalog with `cpu-two-node`'s engine swapped for the faulty server on each node."""
    serve_faulty_server_on_each_node(fake_engine_catalog.catalog, "cpu-two-node")
    return fake_engine_catalog.catalog


def _two_node_run(catalog: Path, tmp_path: Path, slot: int, **env: str) -> tuple[str, str]:
    subnet, name = _subnet(slot), _name(slot)
    argv = [
        sys.executable,
        "-m",
        "deploy_helpers",
        "testbed",
        "run",
        "--name",
        name,
        "--subnet",
        subnet,
        "--",
        sys.executable,
        "-m",
        "pytest",
        "suites/test_completions.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--junitxml",
        str(tmp_path / "junit.xml"),
        "--catalog",
        str(catalog),
        "--model",
        "smollm2-135m",
        "--hardware",
        "cpu-two-node",
        "--node-ip",
        f"{subnet}.1",
        "--node-ip",
        f"{subnet}.2",
    ]
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )
    assert existing(name) == [], "testbed left behind"
    return str(done.returncode), done.stdout + done.stderr


def test_two_node_suite_passes_over_ssh_and_leaves_nothing(two_node_catalog, tmp_path) -> None:
    code, output = _two_node_run(two_node_catalog, tmp_path, 7)
    assert code == "0", output[-3000:]
    assert " passed" in output


def test_two_node_key_reaches_node_0_and_no_artifact(two_node_catalog, tmp_path) -> None:
    code, output = _two_node_run(
        two_node_catalog,
        tmp_path,
        13,
        VLLM_API_KEY=PLANTED,
        SUITE_REPORTS_DIR=str(tmp_path / "reports"),
    )
    assert code == "0", output[-3000:]
    (run_dir,) = [p for p in (tmp_path / "reports").iterdir() if not p.is_symlink()]
    (node0_log,) = run_dir.glob("server-*-node0.log")
    assert "API key required on /v1 routes" in node0_log.read_text(), "the key never reached node 0"
    leaks = [
        str(p) for p in run_dir.rglob("*") if p.is_file() and PLANTED.encode() in p.read_bytes()
    ]
    assert not leaks, f"API key found in {leaks}"
    assert PLANTED not in output
    summary = json.loads((run_dir / "summary.json").read_text())
    bring_ups = summary["fingerprint"]["targets"]["smollm2-135m@cpu-two-node"]["bring_ups"]
    assert [b["node"] for b in bring_ups] == [f"node {i} ({_subnet(13)}.{i + 1})" for i in (0, 1)]
    assert all(
        b["env"]["VLLM_API_KEY"] == "***" and "tests.faulty_server" in b["argv"] for b in bring_ups
    ), bring_ups
    assert "--headless" in bring_ups[1]["argv"] and "--headless" not in bring_ups[0]["argv"]


def test_two_node_missing_join_fails_naming_the_node(two_node_catalog, tmp_path) -> None:
    profile_yaml = two_node_catalog / "hardware" / "cpu-two-node.yaml"
    profile = yaml.safe_load(profile_yaml.read_text())
    profile["serve"]["worker_join_log"] = "a line the worker never prints"
    profile["serve"]["readiness_timeout_s"] = 8
    profile_yaml.write_text(yaml.safe_dump(profile, sort_keys=False))
    code, output = _two_node_run(two_node_catalog, tmp_path, 8)
    assert code == "1", output[-3000:]
    assert "node 1 (" in output and "never logged joining" in output, output[-3000:]


def test_watch_fails_fast_naming_the_node_and_the_remedy(tmp_path: Path) -> None:
    from deploy_helpers.serve.launchers.base import WatchedNode
    from deploy_helpers.serve.process import ServerStartError
    from deploy_helpers.serve.readiness import watch_nodes

    head, worker = tmp_path / "node0.log", tmp_path / "node1.log"
    head.write_text("INFO starting\n")
    worker.write_text("INFO loading\n")
    watch = watch_nodes(
        [
            WatchedNode("node 0 (a)", lambda: True, head),
            WatchedNode("node 1 (b)", lambda: True, worker),
        ]
    )
    assert watch()
    head.write_text(
        "RuntimeError: Remote engine 1 must use --headless unless in external or "
        "hybrid dp lb mode\n"
    )
    with pytest.raises(ServerStartError, match=r"node 0 \(a\): fatal line") as caught:
        watch()
    assert "--data-parallel-start-rank" in str(caught.value)
    head.write_text("INFO fine\n")
    dead = watch_nodes([WatchedNode("node 1 (b)", lambda: False, worker)])
    with pytest.raises(ServerStartError, match=r"node 1 \(b\) exited before serving"):
        dead()


def test_unreachable_node_is_one_line_naming_it(tmp_path: Path) -> None:
    with make_testbed(1, _name(9), _subnet(9)) as bed:
        os.environ[remote.SSH_CONFIG_ENV] = str(bed.ssh_config)
        absent = bed.addresses[0].rsplit(".", 1)[0] + ".3"  # on the testbed's bridge, no node
        try:
            with (
                pytest.raises(SuiteError) as caught,
                remote.running_remote(absent, ["true"], {}, tmp_path / "node.log"),
            ):
                pass
        finally:
            os.environ.pop(remote.SSH_CONFIG_ENV)
    message = str(caught.value)
    assert message.startswith(f"{absent}: the serve command did not start over ssh (")
    assert "\n" not in message


IMAGE = "llm-acceptance/vllm-cpu-runtime:bookworm"  # built by ./setup.sh

# Runs inside `testbed run --docker`: optionally occupies the deployment's container name on
# a node with a container of someone else's, runs the suite, then asks each node's engine
# for the names of all its containers. Prints the suite's output and `left <node>: [names]`.
IN_TESTBED = """
import os, subprocess, sys
nodes, occupy, suite = sys.argv[1:3], sys.argv[3], sys.argv[4:]
ssh = ["ssh", "-F", os.environ["SUITE_SSH_CONFIG"]]
if occupy != "-":
    node, name, image = occupy.split(",")
    subprocess.run([*ssh, node, "docker", "create", "--name", name, image, "true"], check=True,
                   capture_output=True)
done = subprocess.run(suite, capture_output=True, text=True)
print(done.stdout + done.stderr)
for node in nodes:
    ps = subprocess.run([*ssh, node, "docker", "ps", "-a", "--format", "{{.Names}}"],
                        capture_output=True, text=True)
    print(f"left {node}: {ps.stdout.split()} (ssh exit {ps.returncode})")
sys.exit(done.returncode)
"""
CONTAINER = "vllm-cpu-dp"  # the profile's container name, the same on both nodes


@pytest.fixture
def container_nodes_catalog(fake_engine_catalog) -> list[str]:
    """Suite args selecting `cpu-two-node-container` with the faulty server as each node's
    engine (in the node's container)."""
    serve_faulty_server_on_each_node(fake_engine_catalog.catalog, "cpu-two-node-container")
    return [*fake_engine_catalog.args(), "--hardware", "cpu-two-node-container"]


def _container_nodes_run(
    args: list[str], tmp_path: Path, slot: int, images: list[str], occupy_node: int | None = None
) -> tuple[int, str]:
    subnet, name = _subnet(slot), _name(slot)
    nodes = [f"{subnet}.1", f"{subnet}.2"]
    occupy = "-" if occupy_node is None else f"{nodes[occupy_node]},{CONTAINER},{IMAGE}"
    suite = [
        sys.executable,
        "-m",
        "pytest",
        "suites/test_completions.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--junitxml",
        str(tmp_path / "junit.xml"),
        *args,
        "--node-ip",
        nodes[0],
        "--node-ip",
        nodes[1],
    ]
    image_args = [arg for image in images for arg in ("--image", image)]
    argv = [
        sys.executable,
        "-m",
        "deploy_helpers",
        "testbed",
        "run",
        "--name",
        name,
        "--subnet",
        subnet,
        "--docker",
        *image_args,
        "--",
        sys.executable,
        "-c",
        IN_TESTBED,
        *nodes,
        occupy,
        *suite,
    ]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert existing(name) == [], "testbed left behind"
    assert not list(Path("/tmp").glob(f"{name}-*")), "testbed work dir (engine state) left"
    return done.returncode, done.stdout + done.stderr


def test_two_node_containers_serve_over_ssh_and_are_removed(
    container_nodes_catalog, tmp_path: Path
) -> None:
    code, output = _container_nodes_run(container_nodes_catalog, tmp_path, 10, [IMAGE])
    assert code == 0, output[-3000:]
    assert " passed" in output
    assert output.count("left ") == 2 and output.count(": [] (ssh exit 0)") == 2, output[-1500:]


def test_two_node_container_image_missing_on_a_node_is_one_line(
    container_nodes_catalog, tmp_path: Path
) -> None:
    code, output = _container_nodes_run(container_nodes_catalog, tmp_path, 11, [])
    assert code == 1, output[-3000:]
    assert (
        f"node 0 ({_subnet(11)}.1): image '{IMAGE}' is not there and no tarball is configured"
    ) in output, output[-3000:]
    assert "`docker load -i` it on that node" in output


def test_two_node_container_name_taken_fails_and_spares_the_other_container(
    container_nodes_catalog, tmp_path: Path
) -> None:
    code, output = _container_nodes_run(
        container_nodes_catalog, tmp_path, 12, [IMAGE], occupy_node=1
    )
    assert code == 1, output[-3000:]
    node1 = f"{_subnet(12)}.2"
    assert f"node 1 ({node1}): a container named '{CONTAINER}' already exists there" in output
    assert f"left {node1}: ['{CONTAINER}'] (ssh exit 0)" in output, "someone else's container"
    assert f"left {_subnet(12)}.1: [] (ssh exit 0)" in output, "node 0's container not removed"
