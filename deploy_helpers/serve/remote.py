"""Run a serve argv on another node over ssh, and stop it there for sure.

The argv stays a list until the ssh boundary, where `shlex.join` quotes it once for the
remote shell. The remote command becomes the leader of its own session (sshd starts
it that way and the wrapper `exec`s), so its process group id is its pid: the wrapper
prints that id first, and teardown signals the whole group on the node (vLLM's engine
processes included), then closes the local ssh client. Environment values are sent on
stdin, never in an argv, so secrets do not show in the remote `ps`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from deploy_helpers.errors import SuiteError
from deploy_helpers.serve.plan import NodePlan

SSH_CONFIG_ENV = "SUITE_SSH_CONFIG"  # an ssh_config file (the testbed writes one)
PGID_LINE = re.compile(rb"^remote-pgid (\d+)$", re.MULTILINE)

# Reads KEY=VALUE lines from stdin up to an empty line, exports them, reports its process
# group and becomes the serve command.
WRAPPER = (
    'while IFS= read -r kv && [ -n "$kv" ]; do export "$kv"; done; '
    'echo "remote-pgid $$"; exec "$@" </dev/null'
)


def ssh_argv(host: str, config: str | None = None) -> list[str]:
    """The ssh client argv for `host`: batch mode, the suite's ssh_config when one is set."""
    config = config or os.environ.get(SSH_CONFIG_ENV)
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    if config:
        argv += ["-F", config]
    return [*argv, host]


def remote_command(argv: list[str]) -> str:
    """The one string the remote shell runs: the wrapper, then `argv`, quoted once."""
    return "exec " + shlex.join(["sh", "-c", WRAPPER, "sh", *argv])


def run(host: str, argv: list[str], timeout_s: float = 30) -> subprocess.CompletedProcess:
    """Run a short command on `host` and return its result (text output, wrapper line removed)."""
    done = subprocess.run(
        [*ssh_argv(host), remote_command(argv)],
        input="\n",
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    done.stdout = re.sub(r"^remote-pgid \d+\n", "", done.stdout, count=1)
    return done


@dataclass
class RemoteProcess:
    """A command running on `host` through the local ssh client `client`."""

    host: str
    client: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        """True while the remote command runs (ssh exits when it does)."""
        return self.client.poll() is None

    def ended(self) -> str | None:
        """How the remote command ended, as its ssh client tells (the remote exit status;
        255: ssh itself failed); None while it runs."""
        code = self.client.poll()
        if code is None:
            return None
        return (
            "lost its ssh session (status 255)"
            if code == 255
            else f"exited with status {code} (over ssh)"
        )

    def pgid(self, wait_s: float = 0.0) -> int | None:
        """The remote process group id the wrapper reported, waiting up to `wait_s`."""
        deadline = time.monotonic() + wait_s
        while True:
            found = PGID_LINE.search(self.log.read_bytes()) if self.log.exists() else None
            if found or time.monotonic() >= deadline:
                return int(found.group(1)) if found else None
            time.sleep(0.2)


def signal_group(host: str, pgid: int, signal_name: str) -> bool:
    """Send `signal_name` to process group `pgid` on `host`; False if it no longer exists."""
    done = run(host, ["kill", "-s", signal_name, "--", f"-{pgid}"], timeout_s=20)
    return done.returncode == 0


def group_alive(host: str, pgid: int) -> bool:
    """True while any process of group `pgid` exists on `host`."""
    return run(host, ["kill", "-s", "0", "--", f"-{pgid}"], timeout_s=20).returncode == 0


def stop(process: RemoteProcess, grace_s: float = 20.0) -> None:
    """SIGTERM the remote group, wait `grace_s`, SIGKILL what is left, close the client."""
    pgid = process.pgid(wait_s=2.0)
    if pgid is not None and signal_group(process.host, pgid, "TERM"):
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and group_alive(process.host, pgid):
            time.sleep(0.5)
        signal_group(process.host, pgid, "KILL")
    if process.client.poll() is None:
        process.client.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.client.wait(timeout=10)
    if process.client.poll() is None:
        process.client.kill()
    process.client.wait()


@contextmanager
def running_remote(
    host: str, argv: list[str], env: dict[str, str], log: Path
) -> Iterator[RemoteProcess]:
    """Start `argv` with `env` on `host`, its output in `log`; always stop it on the node."""
    for key, value in env.items():
        if "\n" in key or "\n" in value or "=" in key:
            raise SuiteError(f"environment variable {key!r} cannot be sent to {host}")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        client = subprocess.Popen(
            [*ssh_argv(host), remote_command(argv)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process = RemoteProcess(host, client, log)
    try:
        lines = "".join(f"{key}={value}\n" for key, value in env.items()) + "\n"
        with suppress(BrokenPipeError):
            client.stdin.write(lines.encode())
            client.stdin.close()
        if process.pgid(wait_s=15.0) is None:
            said = log.read_text(errors="replace").strip().splitlines()
            raise SuiteError(
                f"{host}: the serve command did not start over ssh "
                f"({said[-1] if said else 'no output'}); see {log}"
            )
        yield process
    finally:
        stop(process)


def _last_line(done: subprocess.CompletedProcess) -> str:
    return (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[
        -1
    ]


def image_id(host: str, image: str) -> str | None:
    """The id of `image` on `host`'s Docker engine, or None when it is not there."""
    found = run(host, ["docker", "image", "inspect", "--format", "{{.Id}}", image])
    return found.stdout.strip() if found.returncode == 0 else None


def prepare_image(plan: NodePlan, tarball: Path | None) -> str:
    """On the plan's node: its image is there, `docker load -i`-ing the profile's tarball
    (at the same path on the node) when it is not — no registry is asked — and no
    container has its name yet (teardown removes that name, so it must be ours).
    Returns the image's id."""
    spec, node = plan.container, f"node {plan.rank} ({plan.address})"
    found = image_id(plan.address, spec.image)
    if found is None and tarball is not None:
        loaded = run(plan.address, ["docker", "load", "-i", str(tarball)], timeout_s=1800)
        if loaded.returncode != 0:
            raise SuiteError(f"{node}: docker load -i {tarball} failed ({_last_line(loaded)})")
        found = image_id(plan.address, spec.image)
        if found is None:
            raise SuiteError(f"{node}: {tarball} was loaded but holds no image '{spec.image}'")
    if found is None:
        where = " and no tarball is configured" if tarball is None else ""
        raise SuiteError(
            f"{node}: image '{spec.image}' is not there{where}: no registry is "
            f"asked; `docker load -i` it on that node"
        )
    named = run(plan.address, ["docker", "ps", "-aq", "--filter", f"name=^/{spec.name}$"])
    if named.stdout.strip():
        raise SuiteError(
            f"{node}: a container named '{spec.name}' already exists there: "
            f"remove it (docker rm -f {spec.name}) or name this deployment's "
            f"container otherwise"
        )
    return found


def remove_container(host: str, name: str) -> None:
    """`docker rm -f NAME` on `host`: the container goes even if its engine ignored SIGTERM."""
    run(host, ["docker", "rm", "-f", name], timeout_s=60)


def start_container(plan: NodePlan, argv: list[str]) -> None:
    """`docker run -d` a node's container (its shell, waiting for the serve command)."""
    done = run(plan.address, argv, timeout_s=120)
    if done.returncode != 0:
        raise SuiteError(
            f"node {plan.rank} ({plan.address}): docker run "
            f"{plan.container.name} failed ({_last_line(done)})"
        )
