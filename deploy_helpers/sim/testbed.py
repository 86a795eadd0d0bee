"""A multi-node testbed on one machine: network namespaces with their own address and sshd.

Each node is a network namespace `<name>-n<i>` holding one end of a veth pair (named
`nic` inside, e.g. `tb0`) with address `<subnet>.<i+1>/24`; the other ends join a bridge
`<name>-br` holding `<subnet>.254`, so this namespace reaches every node and the nodes
reach each other. Each node runs its own sshd (own config, host key and authorized key,
all in a temp dir) on its address and, on request, its own Docker engine. The nodes share
this machine's file system, so the repo's venv and weights are where the serve plans expect
them on every node.

`testbed()` always deletes what it made — sshd processes, anything else still running in
the namespaces, the namespaces, veths and bridge, the temp dir — on success, error,
Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from deploy_helpers.errors import SuiteError
from deploy_helpers.signals import sigterm_raises_interrupt

SSHD = "/usr/sbin/sshd"
NIC = "tb0"  # the interface name inside every node: the profile's host.nic


@dataclass(frozen=True)
class Testbed:
    """Running testbed nodes: their addresses, namespaces and the ssh_config that reaches them."""

    name: str
    addresses: list[str]
    namespaces: list[str]
    nic: str
    ssh_config: Path
    work: Path
    docker_hosts: list[str | None]


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SuiteError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _allow_bridged_traffic(bridge: str, undo: ExitStack) -> None:
    """Let node-to-node traffic cross `bridge` whatever the host's FORWARD policy.

    With br_netfilter loaded (dockerd loads it) bridged packets traverse iptables' FORWARD
    chain, whose policy Docker sets to DROP; one rule scoped to this bridge, removed at
    teardown, lets them through.
    """
    if shutil.which("iptables") is None:
        return
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    done = subprocess.run(["iptables", "-I", *rule], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SuiteError(f"iptables -I {' '.join(rule)}: {done.stderr.strip()}")
    undo.callback(subprocess.run, ["iptables", "-D", *rule], capture_output=True, check=False)


def _quiet_ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, check=False)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _sshd_config(work: Path, address: str, index: int, docker_host: str | None) -> Path:
    config = work / f"sshd-{index}.conf"
    # sessions on a node with its own Docker engine talk to that engine
    set_env = f"SetEnv DOCKER_HOST={docker_host}\n" if docker_host else ""
    config.write_text(
        set_env + f"ListenAddress {address}\n"
        "Port 22\n"
        f"HostKey {work / 'host_key'}\n"
        f"AuthorizedKeysFile {work / 'authorized_keys'}\n"
        f"PidFile {work / f'sshd-{index}.pid'}\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "X11Forwarding no\n"
        "AllowTcpForwarding no\n"
        "PrintMotd no\n"
        "Subsystem sftp internal-sftp\n"  # file transfers as on a real host (Ansible's fetch)
        "LogLevel VERBOSE\n"
    )
    return config


def _wait_for_port(address: str, port: int, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock, suppress(OSError):
            sock.settimeout(1.0)
            sock.connect((address, port))
            return
        time.sleep(0.2)
    raise SuiteError(f"sshd on {address}:{port} not listening after {timeout_s:.0f} s: see {log}")


def _unmount_under(root: Path) -> None:
    """Lazily unmount whatever a node's Docker engine left mounted under `root`."""
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{root}/")]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@dataclass(frozen=True)
class Daemon:
    """A process a node runs for the whole testbed: its argv, log and extra environment."""

    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)


# Starts a node's daemons inside its network namespace; returns what stops them.
NodeRunner = Callable[[int, str, list[Daemon]], Callable[[], None]]


def run_in_namespace(index: int, namespace: str, daemons: list[Daemon]) -> Callable[[], None]:
    """The default node runner: each daemon in the node's network namespace.

    `nsenter --net` rather than `ip netns exec`: the latter remounts /sys, which hides the
    cgroup mounts dockerd needs. Containers with host networking then share the node's
    network namespace, as on a real host.
    """
    procs = []
    for daemon in daemons:
        with daemon.log.open("wb") as log:
            procs.append(
                subprocess.Popen(
                    ["nsenter", f"--net=/run/netns/{namespace}", *daemon.argv],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, **daemon.env},
                )
            )

    def stop() -> None:
        for proc in reversed(procs):
            _stop(proc)

    return stop


def _dockerd(root: Path) -> tuple[Daemon, str]:
    """A Docker engine of its own (state under `root`) and its DOCKER_HOST."""
    root.mkdir(parents=True)
    docker_host = f"unix://{root / 'docker.sock'}"
    argv = [
        "dockerd",
        "--data-root",
        str(root / "data"),
        "--exec-root",
        str(root / "exec"),
        "--pidfile",
        str(root / "dockerd.pid"),
        "-H",
        docker_host,
        "--bridge",
        "none",
        "--iptables=false",
        "--ip6tables=false",
    ]
    return Daemon(argv, root / "dockerd.log"), docker_host


def _wait_for_docker(docker_host: str, root: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["docker", "-H", docker_host, "info"], capture_output=True, check=False
        )
        if done.returncode == 0:
            return
        time.sleep(0.5)
    raise SuiteError(
        f"dockerd at {docker_host} not answering after 60 s: see {root / 'dockerd.log'}"
    )


def _copy_image(image: str, docker_host: str) -> None:
    """`docker save IMAGE | docker -H DOCKER_HOST load`: the node gets the host's image."""
    save = subprocess.Popen(
        ["docker", "save", image], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    load = subprocess.run(
        ["docker", "-H", docker_host, "load"],
        stdin=save.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    save.stdout.close()
    saved = save.wait()
    if saved != 0 or load.returncode != 0:
        said = (save.stderr.read().decode() + load.stderr).strip().splitlines() or ["no output"]
        raise SuiteError(f"copying image '{image}' to {docker_host}: {said[-1]}")


def namespace_pids(namespace: str) -> list[int]:
    """Pids of the processes running in network namespace `namespace`."""
    done = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in done.stdout.split()]


def _kill_namespace(namespace: str) -> None:
    """SIGTERM every process in the namespace, then SIGKILL what is left after 10 s."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for pid in namespace_pids(namespace):
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while namespace_pids(namespace) and time.monotonic() < deadline:
            time.sleep(0.2)


def existing(name: str) -> list[str]:
    """Namespaces, links and FORWARD rules of testbed `name` that exist now (empty: clean)."""
    found = []
    done = subprocess.run(
        ["ip", "-o", "netns", "list"], capture_output=True, text=True, check=False
    )
    found += [
        line.split()[0]
        for line in done.stdout.splitlines()
        if line.split()[0].startswith(f"{name}-")
    ]
    done = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        link = line.split(":")[1].strip().split("@")[0]
        if link.startswith(f"{name}-"):
            found.append(link)
    if shutil.which("iptables"):
        done = subprocess.run(
            ["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=False
        )
        found += [line for line in done.stdout.splitlines() if f"-i {name}-br " in line]
    return found


@contextmanager
def testbed(
    nodes: int = 2,
    name: str = "llmtb",
    subnet: str = "10.241.0",
    nic: str = NIC,
    docker_images: list[str] | None = None,
    runner: NodeRunner = run_in_namespace,
    down: Collection[int] = (),
) -> Iterator[Testbed]:
    """Create `nodes` namespace hosts with sshd on `<subnet>.1..N`; always delete them.

    With `docker_images` (a list, possibly empty) every node also runs its own Docker engine,
    holding a copy of each of those images from this host's engine. `runner` starts each
    node's daemons (the twin runs them in a mount namespace of the node's own). The nodes
    whose indexes are in `down` have their sshd stopped once it listened: hosts that do not
    answer ssh.
    """
    if shutil.which("ip") is None or not Path(SSHD).exists():
        raise SuiteError("the testbed needs iproute2 and openssh-server (./setup.sh installs them)")
    if len(f"{name}-br") > 15:
        raise SuiteError(f"testbed name '{name}' too long for interface names (max 12)")
    leftovers = existing(name)
    if leftovers:
        raise SuiteError(
            f"testbed '{name}' already exists ({', '.join(leftovers)}): "
            f"delete it (ip netns del / ip link del) or use another name"
        )
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    bridge = f"{name}-br"
    namespaces = [f"{name}-n{i}" for i in range(nodes)]
    addresses = [f"{subnet}.{i + 1}" for i in range(nodes)]
    with ExitStack() as undo, sigterm_raises_interrupt():
        undo.callback(shutil.rmtree, work, ignore_errors=True)
        undo.callback(_quiet_ip, "link", "del", bridge)
        _ip("link", "add", bridge, "type", "bridge")
        _allow_bridged_traffic(bridge, undo)
        _ip("addr", "add", f"{subnet}.254/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i, (namespace, address) in enumerate(zip(namespaces, addresses, strict=True)):
            undo.callback(_quiet_ip, "netns", "del", namespace)
            undo.callback(_kill_namespace, namespace)
            _ip("netns", "add", namespace)
            host_end = f"{name}-h{i}"
            undo.callback(_quiet_ip, "link", "del", host_end)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", nic, "netns", namespace)
            _ip("link", "set", host_end, "master", bridge, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", nic)
            _ip("-n", namespace, "link", "set", nic, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        _keygen(work / "host_key")
        _keygen(work / "client_key")
        shutil.copy(work / "client_key.pub", work / "authorized_keys")
        host_key = (work / "host_key.pub").read_text().split()[:2]
        (work / "known_hosts").write_text(
            "".join(f"{address} {' '.join(host_key)}\n" for address in addresses)
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        docker_hosts: list[str | None] = []
        for i, (namespace, address) in enumerate(zip(namespaces, addresses, strict=True)):
            daemons, docker_host = [], None
            if docker_images is not None:
                dockerd, docker_host = _dockerd(work / f"docker-{i}")
                daemons.append(dockerd)
                undo.callback(_unmount_under, work / f"docker-{i}")
            config = _sshd_config(work, address, i, docker_host)
            daemons.append(Daemon([SSHD, "-D", "-e", "-f", str(config)], work / f"sshd-{i}.log"))
            undo.callback(runner(i, namespace, daemons))
            docker_hosts.append(docker_host)
            if docker_host is not None:
                _wait_for_docker(docker_host, work / f"docker-{i}")
                for image in docker_images:
                    _copy_image(image, docker_host)
            _wait_for_port(address, 22, timeout_s=30, log=work / f"sshd-{i}.log")
            if i in down:
                _stop_sshd(work / f"sshd-{i}.pid")
        ssh_config = work / "ssh_config"
        ssh_config.write_text(
            f"Host {' '.join(addresses)}\n"
            "  User root\n"
            f"  IdentityFile {work / 'client_key'}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {work / 'known_hosts'}\n"
            "  StrictHostKeyChecking yes\n"
            "  LogLevel ERROR\n"
        )
        yield Testbed(name, addresses, namespaces, nic, ssh_config, work, docker_hosts)


def _stop_sshd(pid_file: Path) -> None:
    """Stop a node's sshd (its PidFile): the host no longer answers ssh."""
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with suppress(FileNotFoundError, ProcessLookupError, ValueError):
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
