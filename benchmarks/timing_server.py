"""A fast OpenAI-compatible streaming double with known timing: the truth a load generator is
measured against.

Raw asyncio on uvloop with httptools (no framework), every SSE event pre-rendered, so that
one core serves far more streams than a Python client can read. It answers
`/v1/completions` (streamed), `/v1/models`, `/health`, and word-level `/tokenize` and
`/detokenize` (one token per whitespace-separated word, `w<id>` words round-trip).

Timing: the first content event is written `--ttft-ms` after the request was read, each
later one `--tpot-ms` after the previous one's due time (an absolute schedule, so the
server's own lateness does not accumulate). With both at 0 the server answers instantly,
either in one write (`--delivery whole`) or one write per event (`--delivery chunked`;
while the socket accepts data each write is its own send and TCP segment).
Every request's true timing (when it was read, when its first and last content events were
written) is recorded; `GET /_truth` returns the records so far and clears them.

Run: python -m benchmarks.timing_server --port 8200 [--ttft-ms 50 --tpot-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from typing import Any

import httptools
import msgspec
import uvloop

SERVED_NAME = "smollm2-135m"
MAX_MODEL_LEN = 2048
TOKEN_TEXT = " w7"


class CompletionRequest(msgspec.Struct):
    """The fields of a completion request the double reads."""

    prompt: str = ""
    max_tokens: int = 16
    stream: bool = False
    model: str = SERVED_NAME


class TokenizeRequest(msgspec.Struct):
    """`/tokenize` and `/detokenize` bodies."""

    prompt: str = ""
    tokens: list[int] = []


def word_ids(text: str) -> list[int]:
    """Word-level token ids: `w<id>` maps to id, any other word to a stable small id."""
    ids = []
    for word in text.split():
        if word[:1] == "w" and word[1:].isdigit():
            ids.append(int(word[1:]))
        else:
            ids.append(sum(word.encode()) % 30000)
    return ids


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def _chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk of the chunked transfer encoding."""
    return b"%x\r\n%b\r\n" % (len(data), data)


BASE = {"id": "cmpl-double", "object": "text_completion", "created": 0, "model": SERVED_NAME}
TOKEN_EVENT = _chunk(
    _event(
        {
            **BASE,
            "choices": [{"index": 0, "text": TOKEN_TEXT, "logprobs": None, "finish_reason": None}],
        }
    )
)
FINISH_EVENT = _chunk(
    _event(
        {**BASE, "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}]}
    )
)
DONE = _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


def usage_event(prompt_tokens: int, completion_tokens: int) -> bytes:
    """The closing usage-only event."""
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return _chunk(_event({**BASE, "choices": [], "usage": usage}))


def json_response(payload: Any, status: int = 200) -> bytes:
    """A complete JSON response."""
    body = msgspec.json.encode(payload)
    reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}[status]
    return b"HTTP/1.1 %d %b\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b" % (
        status,
        reason,
        len(body),
        body,
    )


class Timing:
    """The server's timing: delays, delivery style, and the truth it records."""

    def __init__(self, ttft_s: float, tpot_s: float, delivery: str) -> None:
        self.ttft_s = ttft_s
        self.tpot_s = tpot_s
        self.delivery = delivery
        # per request: [read_at, first_content_at, last_content_at, content_events]
        self.truth: list[list[float]] = []

    @property
    def instant(self) -> bool:
        """No delays: the response is written as fast as possible."""
        return self.ttft_s == 0 and self.tpot_s == 0


class Connection(asyncio.Protocol):
    """One client connection: parse requests, answer them in order (no pipelining)."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        read_at = time.perf_counter()
        url, body = self.url.split(b"?")[0], b"".join(self.body)
        self.url, self.body = b"", []
        method = self.parser.get_method()
        try:
            self.route(method, url, body, read_at)
        except msgspec.ValidationError as exc:
            self.transport.write(json_response({"error": {"message": str(exc)}}, 400))

    def route(self, method: bytes, url: bytes, body: bytes, read_at: float) -> None:
        """Answer one request."""
        write = self.transport.write
        if url == b"/v1/completions" and method == b"POST":
            self.complete(msgspec.json.decode(body, type=CompletionRequest), read_at)
        elif url == b"/health":
            write(json_response({}))
        elif url == b"/v1/models":
            write(
                json_response(
                    {
                        "object": "list",
                        "data": [
                            {"id": SERVED_NAME, "object": "model", "max_model_len": MAX_MODEL_LEN}
                        ],
                    }
                )
            )
        elif url == b"/tokenize":
            ids = word_ids(msgspec.json.decode(body, type=TokenizeRequest).prompt)
            write(json_response({"count": len(ids), "tokens": ids, "max_model_len": MAX_MODEL_LEN}))
        elif url == b"/detokenize":
            tokens = msgspec.json.decode(body, type=TokenizeRequest).tokens
            write(json_response({"prompt": " ".join(f"w{i}" for i in tokens)}))
        elif url == b"/_truth":
            truth, self.timing.truth = self.timing.truth, []
            write(json_response(truth))
        else:
            write(json_response({"error": {"message": f"no route {url.decode()}"}}, 404))

    def complete(self, request: CompletionRequest, read_at: float) -> None:
        """Stream `max_tokens` content events, a finish event, usage and [DONE]."""
        if request.model != SERVED_NAME or not request.stream:
            self.transport.write(
                json_response(
                    {"error": {"message": "the double serves streamed completions only"}}, 400
                )
            )
            return
        n = request.max_tokens
        record = [read_at, 0.0, 0.0, float(n)]
        self.timing.truth.append(record)
        tail = FINISH_EVENT + usage_event(len(request.prompt.split()), n) + DONE
        if self.timing.instant and self.timing.delivery == "whole":
            record[1] = record[2] = time.perf_counter()
            self.transport.write(STREAM_HEAD + TOKEN_EVENT * n + tail)
            return
        self.transport.write(STREAM_HEAD)
        if self.timing.instant:
            self.write_each(n, tail, record)
        else:
            self.schedule(0, n, tail, record, read_at + self.timing.ttft_s)

    def write_each(self, n: int, tail: bytes, record: list[float]) -> None:
        """Instant chunked delivery: one write (one send, one TCP segment) per event."""
        write = self.transport.write
        record[1] = time.perf_counter()
        for _ in range(n):
            write(TOKEN_EVENT)
        record[2] = time.perf_counter()
        write(tail)

    def schedule(self, i: int, n: int, tail: bytes, record: list[float], due: float) -> None:
        """Write content event `i` at `due` (perf_counter time), then schedule the next."""
        delay = due - time.perf_counter()
        if delay > 0:
            self.loop.call_later(delay, self.emit, i, n, tail, record, due)
        else:
            self.emit(i, n, tail, record, due)

    def emit(self, i: int, n: int, tail: bytes, record: list[float], due: float) -> None:
        """Write content event `i` now."""
        if self.transport.is_closing():
            return
        now = time.perf_counter()
        if i == 0:
            record[1] = now
        if i == n - 1:
            record[2] = now
            self.transport.write(TOKEN_EVENT + tail)
            return
        self.transport.write(TOKEN_EVENT)
        self.schedule(i + 1, n, tail, record, due + self.timing.tpot_s)


async def serve(port: int, timing: Timing) -> None:
    """Serve until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(timing), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse options, optionally pin to a CPU, serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--tpot-ms", type=float, default=0.0)
    parser.add_argument("--delivery", choices=["whole", "chunked"], default="chunked")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    timing = Timing(args.ttft_ms / 1000, args.tpot_ms / 1000, args.delivery)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.port, timing))


if __name__ == "__main__":
    main()
