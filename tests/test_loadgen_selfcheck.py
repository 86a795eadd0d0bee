"""The self-check: a client whose event loop is blocked marks its own result invalid.

Runs the real load generator against the known-timing double (benchmarks.timing_server);
the fault is a task that blocks the client's event loop while requests stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import uvloop

from benchmarks.peers import Double, timing_double
from deploy_helpers.loadgen import LoadConfig, Tolerance, run_load_async
from deploy_helpers.loadgen.floors import invalid_reason

TOLERANCE = Tolerance(ttft_ms=20.0, tpot_ms=2.0, relative=0.0)
BLOCK_S = 0.06


@pytest.fixture(scope="module")
def double() -> Iterator[Double]:
    with timing_double(cpu=None, ttft_ms=100, tpot_ms=5) as server:
        yield server


def config(double: Double) -> LoadConfig:
    return LoadConfig(
        base_url=double.base_url,
        model="smollm2-135m",
        prompt_tokens=16,
        output_tokens=16,
        num_requests=24,
        concurrency=4,
        warmup_requests=2,
        tolerance=TOLERANCE,
        progress=False,
    )


async def run_with_blocking(cfg: LoadConfig, block_s: float) -> dict:
    """Run the load while a task blocks the loop for `block_s` every 100 ms."""

    async def blocker() -> None:
        while True:
            await asyncio.sleep(0.1)
            time.sleep(block_s)  # the injected fault: the loop stalls

    task = asyncio.create_task(blocker()) if block_s else None
    try:
        return await run_load_async(cfg)
    finally:
        if task is not None:
            task.cancel()


def test_clean_client_is_valid(double: Double) -> None:
    result = uvloop.run(run_with_blocking(config(double), 0.0))
    assert result["completed"] == 24, result["errors"]
    assert result["self_check"]["valid"], result["self_check"]
    assert invalid_reason(result) is None
    assert result["ttft_ms"]["median"] == pytest.approx(100, abs=15)


def test_blocked_event_loop_marks_result_invalid(double: Double) -> None:
    result = uvloop.run(run_with_blocking(config(double), BLOCK_S))
    check = result["self_check"]
    assert not check["valid"], check
    assert check["loop_lag_ms"]["max"] >= BLOCK_S * 1000 * 0.8
    reason = invalid_reason(result)
    assert reason is not None and "client lag could move TTFT" in reason, reason
