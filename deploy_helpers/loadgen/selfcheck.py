"""The load generator's check on itself: could its own lag have moved TTFT or TPOT?

Bytes that reach the socket wait until the event loop finishes what it is doing before
`data_received` stamps them, so the delay between arrival and timestamp is bounded by how
long the loop can be busy between two looks at its sockets. The monitor measures exactly
that during the run: a timer is due every `interval_s`, and how late it fires (the loop
checks timers and sockets in the same iteration) is how late a byte arriving at that moment
would have been stamped (on an idle loop ~0.1 ms: timer granularity). The p99 of the
samples bounds how far the client could move a TTFT; divided by the output tokens after
the first, how far it could move a TPOT.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """How much client lag a result may carry: an absolute floor or a share of the median,
    whichever is larger (5%: the agreement asked of two load generators on one server)."""

    ttft_ms: float = 2.0
    tpot_ms: float = 0.5
    relative: float = 0.05

    def ttft_limit(self, ttft_median_ms: float) -> float:
        """Tolerated TTFT error for this median TTFT."""
        return max(self.ttft_ms, self.relative * ttft_median_ms)

    def tpot_limit(self, tpot_median_ms: float) -> float:
        """Tolerated TPOT error for this median TPOT."""
        return max(self.tpot_ms, self.relative * tpot_median_ms)


class LagMonitor:
    """Samples the event loop's iteration length while a measurement runs."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.samples: list[float] = []
        self.cpu_start = self.wall_start = 0.0
        self.cpu_s = self.wall_s = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Begin sampling on the running loop."""
        self.loop = asyncio.get_running_loop()
        self.cpu_start, self.wall_start = time.process_time(), time.perf_counter()
        self._arm()

    def _arm(self) -> None:
        # the loop's own clock is cached per iteration (milliseconds on uvloop): use
        # perf_counter, the clock the request timestamps use
        due = time.perf_counter() + self.interval_s
        self.handle = self.loop.call_later(self.interval_s, self._probe, due)

    def _probe(self, due: float) -> None:
        self.samples.append(max(time.perf_counter() - due, 0.0))
        self._arm()

    def stop(self) -> None:
        """Stop sampling."""
        if self.handle is not None:
            self.handle.cancel()
        self.cpu_s = time.process_time() - self.cpu_start
        self.wall_s = time.perf_counter() - self.wall_start

    def report(
        self,
        ttft_median_ms: float | None,
        tpot_median_ms: float | None,
        output_tokens: int,
        tolerance: Tolerance,
    ) -> dict[str, object]:
        """The self-check verdict: lag statistics, error bounds, tolerances, validity."""
        lag = np.asarray(self.samples or [0.0]) * 1000.0
        lag_p99 = float(np.percentile(lag, 99))
        ttft_bound = lag_p99
        tpot_bound = lag_p99 / max(output_tokens - 1, 1)
        reasons = []
        check = {
            "ttft": (ttft_bound, ttft_median_ms, tolerance.ttft_limit),
            "tpot": (tpot_bound, tpot_median_ms, tolerance.tpot_limit),
        }
        limits: dict[str, float | None] = {}
        for name, (bound, median, limit_of) in check.items():
            if median is None:
                limits[name] = None
                continue
            limits[name] = limit_of(median)
            if bound > limits[name]:
                reasons.append(
                    f"client lag could move {name.upper()} by {bound:.2f} ms "
                    f"(tolerance {limits[name]:.2f} ms): event-loop iteration p99 "
                    f"{lag_p99:.2f} ms, client CPU {self.cpu_share():.0%}"
                )
        return {
            "valid": not reasons,
            "reasons": reasons,
            "loop_lag_ms": {
                "samples": len(self.samples),
                "median": float(np.median(lag)),
                "p99": lag_p99,
                "max": float(lag.max()),
            },
            "ttft_error_bound_ms": ttft_bound,
            "tpot_error_bound_ms": tpot_bound,
            "ttft_tolerance_ms": limits["ttft"],
            "tpot_tolerance_ms": limits["tpot"],
            "client_cpu_share": self.cpu_share(),
        }

    def cpu_share(self) -> float:
        """Client CPU time over wall time during the window (1.0 = one core saturated)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0
