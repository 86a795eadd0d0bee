"""SIGTERM handled like Ctrl-C, so that `finally` blocks tear down what a stage started."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextmanager
def sigterm_raises_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op).

    Python's default for SIGTERM is to die without unwinding, which would leave
    containers and remote services running; pytest already unwinds on KeyboardInterrupt.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def install_sigterm_as_interrupt() -> None:
    """For the rest of the process, SIGTERM raises KeyboardInterrupt (main thread only).

    A test runner stopped by `timeout` or a CI job cancel then tears down like on Ctrl-C.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def wait_passing_interrupt(child: subprocess.Popen) -> int:
    """Wait for `child`; on Ctrl-C pass SIGINT on and give it 120 s to tear down what it
    started (then kill it) before re-raising, so the hosts it runs on outlive its teardown."""
    try:
        return child.wait()
    except KeyboardInterrupt:
        with suppress(ProcessLookupError):
            child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
