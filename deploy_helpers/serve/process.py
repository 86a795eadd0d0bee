"""Run a serve argv as a local process: start it, wait until it serves, stop it for sure.

The process runs in its own session so that vLLM's engine and worker children are
signalled with it; stopping is terminate, a grace period, then kill of the whole group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from deploy_helpers.errors import SuiteError
from deploy_helpers.serve.log_rules import explain_failure


class ServerStartError(SuiteError):
    """The server exited or never became ready; the message carries the log's last lines."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exit_cause(returncode: int | None) -> str | None:
    """How a process ended, from its return code: 'exited with status N' or 'killed by
    signal SIGKILL (9)'; None while it runs."""
    if returncode is None:
        return None
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "number"
        return f"killed by signal {name} ({-returncode})"
    return f"exited with status {returncode}"


def tail(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of a log file (empty if it does not exist)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_until_serving(
    base_url: str,
    served_name: str,
    timeout_s: float,
    alive: callable = lambda: True,
    log: Path | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Poll `/health` then `/v1/models` (sending `headers`, e.g. the API key's) until
    `served_name` is listed.

    Fails fast with the log's last lines when `alive()` turns false, and on timeout.
    """
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5.0, headers=headers) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise ServerStartError(_failure("exited before serving", log))
            try:
                if client.get(f"{base_url}/health").status_code == 200:
                    names = [m["id"] for m in client.get(f"{base_url}/v1/models").json()["data"]]
                    if served_name in names:
                        return
                    raise ServerStartError(
                        f"{base_url} serves {names}, not the requested '{served_name}'"
                    )
            except (httpx.TransportError, ValueError, KeyError):
                pass
            time.sleep(1.0)
    raise ServerStartError(_failure(f"not serving after {timeout_s:g} s", log))


def _failure(what: str, log: Path | None) -> str:
    if log is None:
        return f"server {what}"
    last = tail(log)
    remedy = explain_failure(last)
    hint = f"\nremedy: {remedy}" if remedy else ""
    return f"server {what}; log {log}, last lines:\n{last}{hint}"


def stop_process_group(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the process group (and SIGCONT, so that a stopped group handles it), wait
    `grace_s`, then SIGKILL whatever is left."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
            os.killpg(proc.pid, signal.SIGCONT)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children may outlive a leader that exited
    proc.wait()


def start_process(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start `argv` with `env` added to this process's environment, in its own session,
    its output in `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


@contextmanager
def running_process(
    argv: list[str],
    env: dict[str, str],
    log: Path,
    base_url: str,
    served_name: str,
    timeout_s: float,
    headers: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """Start `argv`, yield once it serves `served_name` at `base_url` (asked with `headers`),
    always stop it."""
    proc = start_process(argv, env, log)
    try:
        wait_until_serving(
            base_url,
            served_name,
            timeout_s,
            alive=lambda: proc.poll() is None,
            log=log,
            headers=headers,
        )
        yield proc
    finally:
        stop_process_group(proc)
