"""The watchdog of a running service: it notices, while the suites run, that the engine died
or hung.

A daemon thread polls every POLL_S whether the service's processes or containers still run
(`ended()`, for the services the suite started) and whether `/health` answers 200. A
service whose process ended, or whose `/health` went unanswered for the profile's
`serve.request_bounds.health_s`, is a `Fault`: its cause (the exit status or signal, or
the silence), the last lines of the engine's log and the fatal line `log_rules.yaml`
knows there, with its remedy. The watchdog reports the fault once to `on_fault` and stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from deploy_helpers.client.endpoint import Endpoint
from deploy_helpers.report.facts import now_iso
from deploy_helpers.serve.log_rules import fatal_line
from deploy_helpers.serve.process import tail

POLL_S = 1.0
PROBE_S = 5.0  # one /health request waits at most this long (the bound counts across them)
TAIL_LINES = 25


class Watched(Protocol):
    """What the watchdog needs of a service (a launcher's Service, or an ExistingService)."""

    endpoint: Endpoint
    target: str

    def ended(self) -> tuple[str, Path] | None:
        """How its first node that no longer runs ended, and that node's log."""

    def logs(self) -> list[Path]:
        """Every node's log, node 0 first."""


@dataclass(frozen=True)
class Fault:
    """A service that died or stopped answering while the suites ran, and what it said."""

    target: str
    cause: str
    at: str
    log: str | None = None
    last_lines: str = ""
    fatal_line: str | None = None
    remedy: str | None = None

    def short(self) -> str:
        """One line: the target, the cause and the engine's fatal log line."""
        text = f"{self.target}: {self.cause}"
        return f"{text}; its log says: {self.fatal_line}" if self.fatal_line else text

    def line(self) -> str:
        """The short line and the remedy of the fatal line."""
        return f"{self.short()}; remedy: {self.remedy}" if self.remedy else self.short()

    def details(self) -> str:
        """The line, then the last lines of the engine's log."""
        if not self.log:
            return self.line()
        return f"{self.line()}\nlast lines of {self.log}:\n{self.last_lines or '(empty)'}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def fault_of(service: Watched, cause: str, log: Path | None) -> Fault:
    """The fault `cause` of `service`, with the last lines of `log` and its fatal line."""
    last = tail(log, TAIL_LINES) if log is not None else ""
    fatal = fatal_line(last)
    return Fault(
        service.target, cause, now_iso(), str(log) if log else None, last, *(fatal or (None, None))
    )


class Watchdog:
    """Watches one service from a daemon thread until a fault or `stop()`."""

    def __init__(
        self, service: Watched, on_fault: Callable[[Fault], None], bound_s: float | None = None
    ) -> None:
        self.service = service
        self.on_fault = on_fault
        self.bound_s = bound_s if bound_s is not None else service.endpoint.bounds.health_s
        self.fault: Fault | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name=f"watchdog {service.target}", daemon=True
        )

    def start(self) -> Watchdog:
        """Start watching."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (before the service is stopped on purpose); nothing is reported
        after this, and it does not wait for a /health request in flight."""
        self._stopped.set()

    def check(self, wait_s: float = 1.0) -> Fault | None:
        """Asked by a test that just lost its connection: whether the service's process
        ended (waiting up to `wait_s`: the test may see it before the process is gone), else
        whether /health refuses connections too (then it died, whoever started it). A fault
        found is reported as the thread would; returns the fault so far."""
        deadline = time.monotonic() + wait_s
        while self.fault is None and time.monotonic() < deadline:
            if (fault := self._died()) is not None:
                self._report(fault)
            else:
                time.sleep(0.1)
        if self.fault is None:
            url = f"{self.service.endpoint.base_url}/health"
            try:
                httpx.get(url, headers=self.service.endpoint.headers, timeout=PROBE_S)
            except httpx.ConnectError as exc:
                logs = self.service.logs()
                self._report(
                    fault_of(
                        self.service,
                        f"the service died: {url} refuses connections ({exc})",
                        logs[0] if logs else None,
                    )
                )
            except httpx.HTTPError:
                pass  # no answer yet: the thread counts it against the bound
        return self.fault

    def _report(self, fault: Fault) -> None:
        with self._lock:
            if self._stopped.is_set() or self.fault is not None:
                return
            self.fault = fault
        self.on_fault(fault)

    def _died(self) -> Fault | None:
        ended = self.service.ended()
        if ended is None:
            return None
        how, log = ended
        return fault_of(self.service, f"the service died: {how}", log)

    def _watch(self) -> None:
        endpoint = self.service.endpoint
        logs = self.service.logs()
        last_ok, last_said = time.monotonic(), ""
        with httpx.Client(headers=endpoint.headers) as http:
            while not self._stopped.wait(POLL_S):
                if (fault := self._died()) is not None:
                    self._report(fault)
                    return
                left = self.bound_s - (time.monotonic() - last_ok)
                try:
                    answer = http.get(
                        f"{endpoint.base_url}/health", timeout=max(0.1, min(PROBE_S, left))
                    )
                    if answer.status_code == 200:
                        last_ok, last_said = time.monotonic(), ""
                        continue
                    last_said = f"; it last answered HTTP {answer.status_code}"
                except httpx.TimeoutException:
                    last_said = ""
                except httpx.HTTPError as exc:
                    last_said = f"; last try: {type(exc).__name__}: {exc}"
                if time.monotonic() - last_ok >= self.bound_s:
                    fault = self._died() or fault_of(
                        self.service,
                        f"the service stopped answering: no answer to /health "
                        f"for {self.bound_s:g} s{last_said}",
                        logs[0] if logs else None,
                    )
                    self._report(fault)
                    return
