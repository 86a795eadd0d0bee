"""Drive a streaming completion endpoint: closed-loop concurrency or Poisson arrivals.

Prompts are built (exact token length) and connections opened before the window; warm-up
requests run before it and are not counted. Inside the window the garbage collector is
frozen, and the self-check samples the client's own lag. The result is one JSON-ready dict.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec
import uvloop
from tqdm import tqdm

from deploy_helpers.errors import SuiteError
from deploy_helpers.loadgen.http import ConnectionPool, HttpError, HttpTarget
from deploy_helpers.loadgen.metrics import RequestRecord, summarize
from deploy_helpers.loadgen.prompts import build_prompts
from deploy_helpers.loadgen.selfcheck import LagMonitor, Tolerance
from deploy_helpers.loadgen.sse import apply_stream

MAX_DISTINCT_PROMPTS = 256
SHOWN_PROBLEMS = 10


@dataclass
class LoadConfig:
    """One benchmark run: where, what shape, how requests arrive, what is tolerated."""

    base_url: str
    model: str
    prompt_tokens: int
    output_tokens: int
    num_requests: int
    concurrency: int | None = 8
    request_rate: float | None = None  # requests/s (Poisson); None: closed loop
    warmup_requests: int = 2
    slos_ms: dict[str, float] = field(default_factory=dict)
    tolerance: Tolerance = field(default_factory=Tolerance)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    progress: bool = True
    seed: int = 0
    path: str = "/v1/completions"
    request_timeout_s: float | None = None  # each request's bound (None: unbounded)

    def __post_init__(self) -> None:
        if self.request_rate is None and not self.concurrency:
            raise SuiteError("closed-loop load needs a concurrency (or give a request rate)")
        if min(self.prompt_tokens, self.output_tokens, self.num_requests) < 1:
            raise SuiteError("prompt_tokens, output_tokens and num_requests must be >= 1")

    def public(self) -> dict[str, Any]:
        """The configuration as recorded in results (headers, which may hold keys, left out)."""
        data = asdict(self)
        data.pop("headers")
        return data


def request_body(config: LoadConfig, prompt: str) -> bytes:
    """An exact-length streamed completion request: ignore_eos, min_tokens = max_tokens."""
    return msgspec.json.encode(
        {
            "model": config.model,
            "prompt": prompt,
            "max_tokens": config.output_tokens,
            "min_tokens": config.output_tokens,
            "ignore_eos": True,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )


class Driver:
    """Runs requests over a connection pool and records their timelines."""

    def __init__(self, config: LoadConfig, target: HttpTarget, requests: list[bytes]) -> None:
        """`requests`: raw HTTP requests, used in turn."""
        self.config = config
        self.target = target
        self.pool = ConnectionPool(target)
        self.requests = requests
        self.bar: tqdm | None = None

    async def one(self, record: RequestRecord) -> None:
        """Send request `record.index` and fill its record."""
        await self._send(record)
        if self.bar is not None:
            self.bar.update(1)

    async def _send(self, record: RequestRecord) -> None:
        raw = self.requests[record.index % len(self.requests)]
        try:
            conn = await self.pool.acquire()
        except HttpError as exc:
            record.error = str(exc)
            record.sent_at = record.done_at = time.perf_counter()
            return
        record.sent_at = time.perf_counter()  # refined by request() when it sends
        try:
            status, pieces, record.sent_at = await conn.request(raw, self.config.request_timeout_s)
        except HttpError as exc:
            record.error = str(exc)
            record.done_at = time.perf_counter()
            self.pool.release(conn, reusable=False)
            return
        record.done_at = conn.arrived
        self.pool.release(conn, reusable=status == 200)
        if status != 200:
            body = b"".join(p for _, p in pieces)[:200].decode(errors="replace")
            record.error = f"HTTP {status}: {body}"
        else:
            apply_stream(record, pieces)

    def records(self, count: int) -> list[RequestRecord]:
        """Fresh records for `count` requests."""
        return [
            RequestRecord(i, self.config.prompt_tokens, self.config.output_tokens)
            for i in range(count)
        ]

    async def closed_loop(self, records: list[RequestRecord], concurrency: int) -> None:
        """`concurrency` workers, each sending its next request when the last one ends."""
        queue = iter(records)

        async def worker() -> None:
            for record in queue:
                await self.one(record)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(records)))))

    async def poisson(
        self, records: list[RequestRecord], rate: float, concurrency: int | None
    ) -> list[float]:
        """Send at Poisson arrival times (at most `concurrency` in flight); return how late
        each send was against its scheduled arrival, in seconds."""
        rng = random.Random(self.config.seed)
        gate = asyncio.Semaphore(concurrency) if concurrency else None
        lateness: list[float] = []
        tasks = []
        due = time.perf_counter()

        async def timed(record: RequestRecord, at: float) -> None:
            if gate is None:
                await self.one(record)
            else:
                async with gate:
                    await self.one(record)
            lateness.append(max(record.sent_at - at, 0.0))

        for record in records:
            due += rng.expovariate(rate)
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(timed(record, due)))
        await asyncio.gather(*tasks)
        return lateness

    async def open_connections(self, count: int) -> None:
        """Open `count` connections ahead of the window."""
        conns = await asyncio.gather(*(self.pool.acquire() for _ in range(count)))
        for conn in conns:
            self.pool.release(conn, reusable=True)


async def run_load_async(config: LoadConfig) -> dict[str, Any]:
    """Run one benchmark and return its JSON-ready result."""
    target = HttpTarget(config.base_url, config.headers)
    prompts = await build_prompts(
        config.base_url,
        config.model,
        config.prompt_tokens,
        min(config.num_requests, MAX_DISTINCT_PROMPTS),
        headers=config.headers,
    )
    raw = [target.post(config.path, request_body(config, p)) for p in prompts]
    driver = Driver(config, target, raw)
    try:
        return await _measure(config, driver)
    finally:
        driver.pool.close()


async def _measure(config: LoadConfig, driver: Driver) -> dict[str, Any]:
    width = config.concurrency or 64
    try:
        await driver.open_connections(width)
    except HttpError as exc:
        raise SuiteError(f"endpoint {config.base_url}: {exc}") from None
    if config.warmup_requests:
        warm = driver.records(config.warmup_requests)
        await driver.closed_loop(warm, width)
        failed = [r.error for r in warm if r.error]
        if len(failed) == len(warm):
            raise SuiteError(f"every warm-up request failed: {failed[0]}")
    records = driver.records(config.num_requests)
    monitor = LagMonitor()
    driver.bar = tqdm(
        total=len(records),
        desc="requests",
        unit="req",
        mininterval=0.5,
        disable=not config.progress,
    )
    lateness: list[float] = []
    gc.collect()
    gc.freeze()
    gc.disable()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    monitor.start()
    try:
        if config.request_rate:
            lateness = await driver.poisson(records, config.request_rate, config.concurrency)
        else:
            await driver.closed_loop(records, config.concurrency)
    finally:
        monitor.stop()
        gc.enable()
        gc.unfreeze()
        driver.bar.close()
    return build_result(config, records, monitor, started, lateness)


def build_result(
    config: LoadConfig,
    records: list[RequestRecord],
    monitor: LagMonitor,
    started: str,
    lateness: list[float],
) -> dict[str, Any]:
    """Metrics, reply checks and the self-check verdict of one window."""
    summary = summarize(records, config.slos_ms)
    usage_problems = [p for r in records if r.ok and (p := r.usage_problem())]
    errors = [f"request {r.index}: {r.error}" for r in records if r.error]
    self_check = monitor.report(
        summary["ttft_ms"]["median"],
        summary["tpot_ms"]["median"],
        config.output_tokens,
        config.tolerance,
    )
    if lateness:
        self_check["send_lateness_ms"] = {
            "max": max(lateness) * 1000.0,
            "mean": sum(lateness) / len(lateness) * 1000.0,
        }
    return {
        "tool": "deploy_helpers.loadgen",
        "started_at": started,
        "config": config.public(),
        "metric_definitions": "vLLM (vllm bench serve): TTFT to first non-empty text, "
        "TPOT=(E2E-TTFT)/(output tokens-1), ITL per content event",
        **summary,
        "usage_check": {
            "checked": sum(r.ok for r in records),
            "mismatches": len(usage_problems),
            "examples": usage_problems[:SHOWN_PROBLEMS],
        },
        "errors": {"count": len(errors), "examples": errors[:SHOWN_PROBLEMS]},
        "self_check": self_check,
    }


def run_load(config: LoadConfig) -> dict[str, Any]:
    """Run one benchmark on a fresh uvloop event loop (blocking)."""
    return uvloop.run(run_load_async(config))
