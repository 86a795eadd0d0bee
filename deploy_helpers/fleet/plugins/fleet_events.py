"""Ansible callback plugin: every task result of a fleet run as one JSON line.

Enabled by the fleet's ansible.cfg; writes to the file named by $FLEET_EVENTS_FILE. Lines:
`{"event": "batch", "play": ...}` when a play (or serial batch of it) starts, `{"event":
"task", "play", "task", "host", "status", "msg", "rc", "start", "end", "stdout_tail"}` per
host and task (status ok, failed, ignored, unreachable or skipped), `{"event": "stopped"}`
when Ansible has no hosts left to run a play on, and `{"event": "stats", "hosts": ...}`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

TAIL_LINES = 15  # of a command's output, for the report of a unit that never reported


class CallbackModule(CallbackBase):
    """Writes the fleet's events file."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleet_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("FLEET_EVENTS_FILE")
        self._play = ""
        self._started: dict[tuple[str, str], float] = {}

    def _write(self, record: dict[str, Any]) -> None:
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def v2_playbook_on_play_start(self, play: Any) -> None:
        """A play, or one serial batch of it, starts."""
        self._play = play.get_name()
        self._write({"event": "batch", "play": self._play, "time": time.time()})

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        """Note when a task starts on a host."""
        self._started[(host.get_name(), task._uuid)] = time.time()

    def _result(self, result: Any, status: str) -> None:
        host, task, data = result.host.get_name(), result.task, result.result
        stdout = data.get("stdout") or ""
        stderr = data.get("stderr") or ""
        self._write(
            {
                "event": "task",
                "play": self._play,
                "task": task.get_name(),
                "host": host,
                "status": status,
                "msg": str(data.get("msg") or ""),
                "rc": data.get("rc"),
                "start": self._started.pop((host, task._uuid), None),
                "end": time.time(),
                "stdout_tail": stdout.splitlines()[-TAIL_LINES:],
                "stderr_tail": stderr.splitlines()[-TAIL_LINES:],
            }
        )

    def v2_runner_on_ok(self, result: Any) -> None:
        """A task succeeded on a host."""
        self._result(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        """A task failed on a host."""
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        """A host could not be reached."""
        self._result(result, "unreachable")

    def v2_runner_on_skipped(self, result: Any) -> None:
        """A task was skipped on a host."""
        self._result(result, "skipped")

    def v2_playbook_on_no_hosts_remaining(self) -> None:
        """Ansible stopped a play: every host left has failed (or max_fail_percentage)."""
        self._write({"event": "stopped", "play": self._play, "time": time.time()})

    def v2_playbook_on_stats(self, stats: Any) -> None:
        """The play recap, per host."""
        hosts = {h: stats.summarize(h) for h in sorted(stats.processed)}
        self._write({"event": "stats", "hosts": hosts, "time": time.time()})
