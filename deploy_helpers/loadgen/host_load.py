"""Whether other work used this machine's CPUs while a performance window was measured.

A perf figure taken while other processes competed for the cores says nothing about the
deployment: `HostLoad` samples every process's CPU time (psutil) at the start and the end
of the window, leaves out the deployment's own processes and the measuring client (and
their children), and reports how many cores the rest used on average, naming the top
consumers. Above the profile's bound the measurement is invalid: "host busy".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

TOP = 3  # consumers named in a busy verdict


@dataclass
class LoadReport:
    """CPU used by others during a window: cores on average, and the top consumers."""

    seconds: float
    other_cores: float
    consumers: list[tuple[str, int, float]] = field(default_factory=list)  # most first

    @property
    def top(self) -> list[tuple[str, int, float]]:
        """The consumers a busy verdict names."""
        return self.consumers[:TOP]

    def busy_reason(self, bound_cores: float) -> str | None:
        """'host busy: ...' when others used more than `bound_cores`, else None."""
        if self.other_cores <= bound_cores:
            return None
        named = ", ".join(f"{name} (pid {pid}) {cores:.2f}" for name, pid, cores in self.top)
        return (
            f"host busy: other processes used {self.other_cores:.2f} cores on average "
            f"during the {self.seconds:.0f} s window (bound {bound_cores:g}): {named}"
        )


def _in_container(pid: int, containers: list[str]) -> bool:
    """Whether process `pid` runs in one of the Docker containers `containers` (by id)."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False
    return any(container in text for container in containers)


def _tree(pids: list[int]) -> set[int]:
    """The processes `pids` and all their descendants."""
    found = set()
    for pid in pids:
        try:
            process = psutil.Process(pid)
        except psutil.Error:
            continue
        found.add(pid)
        found.update(child.pid for child in process.children(recursive=True))
    return found


def _cpu_seconds() -> dict[int, tuple[str, float]]:
    times = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        cpu = process.info["cpu_times"]
        if cpu is not None:
            times[process.pid] = (process.info["name"] or "?", cpu.user + cpu.system)
    return times


class HostLoad:
    """A context manager around a measurement window; `.report` after it ends."""

    def __init__(self, own_pids: list[int], own_containers: list[str] = ()) -> None:
        self.own_pids = [os.getpid(), *own_pids]
        self.own_containers = list(own_containers)
        self.report: LoadReport | None = None

    def __enter__(self) -> HostLoad:
        self._start = time.monotonic()
        self._before = _cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = max(time.monotonic() - self._start, 1e-6)
        after = _cpu_seconds()
        mine = _tree(self.own_pids)
        used = []
        for pid, (name, total) in after.items():
            if pid in mine or _in_container(pid, self.own_containers):
                continue
            before = self._before.get(pid, (name, 0.0))[1]
            if total > before:
                used.append((name, pid, (total - before) / seconds))
        used.sort(key=lambda u: u[2], reverse=True)
        self.report = LoadReport(seconds, sum(u[2] for u in used), used)
