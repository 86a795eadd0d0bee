"""The measurement behind the load generator's library choices, side by side.

JSON: decode a typical streamed completion event with the standard library, msgspec
(untyped and typed) and orjson when installed. HTTP: stream the same replies from the
instant double (benchmarks.timing_server, pinned to CPU 0) with aiohttp, httpx and our
protocol client (deploy_helpers.loadgen.http), each stamping every received chunk, on CPU 1.

Run: .venv/bin/python -m benchmarks.loadgen_libraries
Last line: `streaming ratio (ours / best of aiohttp, httpx): X`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import time
import timeit

import aiohttp
import httpx
import msgspec
import uvloop

from benchmarks.peers import timing_double
from deploy_helpers.loadgen.http import ConnectionPool, HttpTarget
from deploy_helpers.loadgen.sse import Event

EVENT = (
    b'{"id":"cmpl-0123456789abcdef","object":"text_completion","created":1700000000,'
    b'"model":"smollm2-135m","choices":[{"index":0,"text":" the","logprobs":null,'
    b'"finish_reason":null,"stop_reason":null}],"usage":null}'
)
BODY = {"model": "smollm2-135m", "prompt": "w1 w2 w3", "max_tokens": 256, "stream": True}
CONCURRENCY, REQUESTS, ROUNDS = 64, 640, 3


def json_decoders() -> dict[str, float]:
    """Microseconds per decoded event for each JSON library."""
    decoders = {
        "json": json.loads,
        "msgspec": msgspec.json.Decoder().decode,
        "msgspec typed": msgspec.json.Decoder(Event).decode,
    }
    if importlib.util.find_spec("orjson"):
        decoders["orjson"] = importlib.import_module("orjson").loads
    n = 100_000
    return {
        name: timeit.timeit(lambda f=f: f(EVENT), number=n) / n * 1e6
        for name, f in decoders.items()
    }


async def closed_loop(one) -> float:
    """Requests/s of `one()` at CONCURRENCY over REQUESTS."""
    left = iter(range(REQUESTS))

    async def worker() -> None:
        for _ in left:
            await one()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return REQUESTS / (time.perf_counter() - start)


async def with_aiohttp(url: str) -> float:
    """aiohttp (connector limit lifted: its default of 100 would queue requests)."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.post(f"{url}/v1/completions", json=BODY) as response:
                async for chunk in response.content.iter_any():
                    stamps.append((time.perf_counter(), chunk))

        stamps: list = []
        return await closed_loop(one)


async def with_httpx(url: str) -> float:
    """httpx with a pool as wide as the concurrency."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one() -> None:
            async with client.stream("POST", f"{url}/v1/completions", json=BODY) as response:
                async for chunk in response.aiter_raw():
                    stamps.append((time.perf_counter(), chunk))

        stamps: list = []
        return await closed_loop(one)


async def with_ours(url: str) -> float:
    """Our protocol client."""
    target = HttpTarget(url)
    pool = ConnectionPool(target)
    raw = target.post("/v1/completions", msgspec.json.encode(BODY))

    async def one() -> None:
        conn = await pool.acquire()
        await conn.request(raw)
        pool.release(conn, reusable=True)

    try:
        return await closed_loop(one)
    finally:
        pool.close()


def main() -> None:
    """Print JSON and HTTP measurements."""
    for name, us in sorted(json_decoders().items(), key=lambda kv: kv[1]):
        print(f"  json decode {name:14} {us:6.2f} us/event")
    clients = {"aiohttp": with_aiohttp, "httpx": with_httpx, "ours": with_ours}
    rates = dict.fromkeys(clients, 0.0)
    with timing_double(0, delivery="chunked") as double:
        os.sched_setaffinity(0, {1})
        for _ in range(ROUNDS):  # interleaved, best of: the machine is shared and noisy
            for name, run in clients.items():
                rates[name] = max(rates[name], uvloop.run(run(double.base_url)))
    for name, rate in rates.items():
        print(f"  streaming {name:8} {rate:7.1f} req/s (256 events each, best of {ROUNDS})")
    best_peer = max(rates["aiohttp"], rates["httpx"])
    print(f"streaming ratio (ours / best of aiohttp, httpx): {rates['ours'] / best_peer:.2f}")


if __name__ == "__main__":
    main()
