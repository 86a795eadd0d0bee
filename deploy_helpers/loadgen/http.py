"""A minimal streaming HTTP/1.1 client on asyncio protocols, for timing streamed replies.

Why not aiohttp or httpx (`python -m benchmarks.loadgen_libraries` measures all three on
the same double): httpx streamed about 10x fewer replies per second than this client here.
aiohttp streams more replies per second (this client measured 0.57-0.77x of it, as it hands
httptools' every chunk to Python), but it passes each chunk to a waiting coroutine through
a future, so the clock is read only after a task wake-up, queued behind whatever else the
loop is doing: `vllm bench serve` (aiohttp) is off by 92 ms of TTFT at concurrency 256
where this client is off by under 1 ms (benchmarks/loadgen_accuracy.py), and its ceiling
is still 3.5x vllm bench serve's (benchmarks/loadgen_ceiling.py). Here the transport's
`data_received` callback reads the clock first, then lets httptools (the llhttp parser
uvicorn uses) strip the chunked framing, and only keeps the body bytes; the stream is split
and decoded after the reply is complete (deploy_helpers.loadgen.sse).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httptools

from deploy_helpers.errors import SuiteError


class HttpError(Exception):
    """A request that did not get a complete 200 reply."""


class StreamConnection(asyncio.Protocol):
    """One keep-alive connection that runs one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.pieces: list[tuple[float, bytes]] = []
        self.parts: list[bytes] = []
        self.arrived = 0.0
        self.done: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_exception(HttpError(f"connection closed mid-reply: {exc or 'EOF'}"))

    def data_received(self, data: bytes) -> None:
        self.arrived = time.perf_counter()  # first: this is the moment being measured
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.transport.close()
            if not self.done.done():
                self.done.set_exception(HttpError(f"malformed HTTP reply: {exc}"))

    def on_body(self, body: bytes) -> None:
        self.pieces.append((self.arrived, body))

    def on_message_complete(self) -> None:
        if not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    def expire(self, timeout_s: float) -> None:
        """End the request in flight: no complete reply came within `timeout_s`."""
        if self.done is not None and not self.done.done():
            self.done.set_exception(
                HttpError(
                    f"no complete reply within the request bound of {timeout_s:g} s (timed out)"
                )
            )
        self.transport.close()

    async def request(
        self, raw: bytes, timeout_s: float | None = None
    ) -> tuple[int, list[tuple[float, bytes]], float]:
        """Send a raw request; return status, timestamped body pieces and the send time
        (an HttpError when no complete reply came within `timeout_s`)."""
        loop = asyncio.get_running_loop()
        self.pieces = []
        self.parts = []
        self.parser = httptools.HttpResponseParser(self)
        self.done = loop.create_future()
        sent_at = time.perf_counter()
        self.transport.write(raw)
        timer = loop.call_later(timeout_s, self.expire, timeout_s) if timeout_s else None
        try:
            status = await self.done
        finally:
            if timer is not None:
                timer.cancel()
        return status, self.pieces, sent_at


class HttpTarget:
    """Where requests go and how they are framed: host, port, path prefix, headers."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise SuiteError(f"load generator needs an http:// endpoint, got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        lines = [
            f"Host: {parts.netloc}",
            "Content-Type: application/json",
            "Accept: text/event-stream",
            "Connection: keep-alive",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        self.header_block = ("\r\n".join(lines) + "\r\n").encode()

    def post(self, path: str, body: bytes) -> bytes:
        """The bytes of a POST request with a JSON body."""
        return (
            f"POST {self.prefix}{path} HTTP/1.1\r\n".encode()
            + self.header_block
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )

    async def connect(self) -> StreamConnection:
        """A new connection to the target."""
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_connection(StreamConnection, self.host, self.port)
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        return protocol


class ConnectionPool:
    """Idle keep-alive connections, reused first, opened on demand (no upper limit:
    the caller's concurrency is the limit, unlike aiohttp's default of 100)."""

    def __init__(self, target: HttpTarget) -> None:
        self.target = target
        self.idle: list[StreamConnection] = []
        self.all: list[StreamConnection] = []

    async def acquire(self) -> StreamConnection:
        """An idle open connection, or a new one."""
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        conn = await self.target.connect()
        self.all.append(conn)
        return conn

    def release(self, conn: StreamConnection, reusable: bool) -> None:
        """Return a connection after a complete reply; close it otherwise."""
        if reusable and not conn.closed:
            self.idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def close(self) -> None:
        """Close every connection."""
        for conn in self.all:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
        self.all.clear()
