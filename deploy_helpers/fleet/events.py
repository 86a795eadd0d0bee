"""What Ansible did, per host and task: the fleet_events callback's JSON lines, read back.

Names the playbook gives its plays and tasks (playbook.yml, stage.yml) are the keys here.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFLIGHT, SERVE = "preflight", "serve"  # play names, also the stage names
SUITE_TASK = "suite"
# preflight tasks whose failure says why a unit could not run the suite at all
REACHABLE, SUITE_PRESENT, VERSION_MATCHES = "reachable", "suite present", "suite version matches"
LEFTOVERS_TASK = "leftovers"


@dataclass(frozen=True)
class TaskEvent:
    """One task's result on one host."""

    play: str
    task: str
    host: str
    status: str
    msg: str = ""
    rc: int | None = None
    start: float | None = None
    end: float | None = None
    stdout_tail: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """How long the task ran on the host (0 when its start was not seen)."""
        return max(self.end - self.start, 0.0) if self.start and self.end else 0.0


@dataclass
class Events:
    """A fleet run as Ansible saw it."""

    tasks: list[TaskEvent] = field(default_factory=list)
    # (play, index of the first task event of that batch) for each play or serial batch
    batches: list[tuple[str, int]] = field(default_factory=list)
    stopped: list[tuple[str, int]] = field(default_factory=list)  # (play, task events so far)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def of(self, host: str, play: str | None = None, task: str | None = None) -> list[TaskEvent]:
        """The host's task events, optionally of one play and task."""
        return [
            e
            for e in self.tasks
            if e.host == host
            and (play is None or e.play == play)
            and (task is None or e.task == task)
        ]

    def batch_hosts(self) -> list[tuple[str, int, list[str]]]:
        """Each batch's play, the index of its first task event, and the hosts that ran
        tasks in it, in order."""
        bounds = [*self.batches, ("", len(self.tasks))]
        out = []
        for (play, first), (_, after) in itertools.pairwise(bounds):
            hosts: list[str] = []
            for event in self.tasks[first:after]:
                if event.host not in hosts:
                    hosts.append(event.host)
            out.append((play, first, hosts))
        return out


TASK_KEYS = (
    "play",
    "task",
    "host",
    "status",
    "msg",
    "rc",
    "start",
    "end",
    "stdout_tail",
    "stderr_tail",
)


def parse(lines: list[str]) -> Events:
    """Events from the callback's JSON lines (a line that is not JSON becomes a problem)."""
    events = Events()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record: dict[str, Any] = json.loads(line)
        except ValueError:
            events.problems.append(f"events line {number} is not JSON")
            continue
        kind = record.get("event")
        if kind == "task":
            events.tasks.append(TaskEvent(**{k: record[k] for k in TASK_KEYS if k in record}))
        elif kind == "batch":
            events.batches.append((record["play"], len(events.tasks)))
        elif kind == "stopped":
            events.stopped.append((record["play"], len(events.tasks)))
        elif kind == "stats":
            events.stats = record["hosts"]
    return events


def read(path: Path) -> Events:
    """The events file of a fleet run (none: Ansible ran nothing)."""
    if not path.exists():
        return Events(problems=["Ansible wrote no events (it stopped before the first play)"])
    return parse(path.read_text(encoding="utf-8").splitlines())
