"""Nothing is left running: after a passing run, a failing bring-up, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def faulty_servers(weights_root: Path) -> list[psutil.Process]:
    """Live faulty-server processes a suite run started on weights under weights_root.

    Scoped to one test's weights so that engines of tests running alongside (xdist) do
    not count.
    """
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "tests.faulty_server" in cmdline and any(
            arg.startswith(str(weights_root)) for arg in cmdline
        ):
            found.append(proc)
    return found


def suite_argv(tmp_path: Path, *args: str) -> list[str]:
    """argv of a suite run writing its JUnit XML into tmp_path."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "suites/test_completions.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--junitxml",
        str(tmp_path / "junit.xml"),
        "--reports-dir",
        str(tmp_path / "reports"),
        *args,
    ]


def test_passing_run_leaves_no_server(fake_engine_catalog, tmp_path: Path) -> None:
    done = subprocess.run(
        suite_argv(tmp_path, *fake_engine_catalog.args()),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert not faulty_servers(fake_engine_catalog.weights_root)


def test_failing_bring_up_fails_fast_with_log_and_leaves_nothing(
    fake_engine_catalog, tmp_path: Path
) -> None:
    done = subprocess.run(
        suite_argv(tmp_path, *fake_engine_catalog.args(), "-x"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FAULTY_SERVER_EXIT_AT_START": "1"},
    )
    assert done.returncode == 1
    assert "service stage: server exited before serving" in done.stdout
    assert "refusing to start" in done.stdout, "the log's last lines are shown"
    assert not faulty_servers(fake_engine_catalog.weights_root)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_stops_the_server(fake_engine_catalog, tmp_path: Path, stop: int) -> None:
    slow = {**os.environ, "FAULTY_SERVER_DELAY_S": "1"}
    proc = subprocess.Popen(
        suite_argv(tmp_path, *fake_engine_catalog.args()),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=slow,
    )
    deadline = time.monotonic() + 60
    while not faulty_servers(fake_engine_catalog.weights_root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert faulty_servers(fake_engine_catalog.weights_root), "the run never started its server"
    time.sleep(1.5)
    proc.send_signal(stop)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in output
    assert not faulty_servers(fake_engine_catalog.weights_root), (
        f"{signal.Signals(stop).name} left the server running"
    )
