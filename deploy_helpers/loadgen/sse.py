"""Turn timestamped body pieces of an OpenAI SSE stream into a request's timeline.

Bytes are only timestamped while the stream runs; they are split into events and decoded
here once the reply is complete, so parsing never sits between a byte's arrival and its
timestamp. An event's time is the arrival time of the read that completed it.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from deploy_helpers.loadgen.metrics import RequestRecord


class Delta(msgspec.Struct):
    """A chat delta: content and reasoning text (role-only deltas carry neither)."""

    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class Choice(msgspec.Struct):
    """A streamed choice of /v1/completions (`text`) or /v1/chat/completions (`delta`)."""

    text: str | None = None
    delta: Delta | None = None


class Usage(msgspec.Struct):
    """Token counts of the reply."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class Event(msgspec.Struct):
    """The parts of a stream event the metrics need."""

    choices: list[Choice] = []
    usage: Usage | None = None


DECODER = msgspec.json.Decoder(Event)
MANY = msgspec.json.Decoder(list[Event])
DONE = b"[DONE]"


def has_text(event: Event) -> bool:
    """Whether an event carries generated text (content or reasoning)."""
    for choice in event.choices:
        if choice.text:
            return True
        delta = choice.delta
        if delta is not None and (delta.content or delta.reasoning or delta.reasoning_content):
            return True
    return False


def _data_of(block: bytes) -> bytes:
    """The data of one SSE event block (multi-line data joined, comments dropped)."""
    if block.startswith(b"data: ") and b"\n" not in block:  # the usual one-line event
        return block[6:]
    return b"\n".join(line[5:].lstrip() for line in block.split(b"\n") if line.startswith(b"data:"))


def split_events(pieces: Iterable[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """(arrival time, data payload) of every complete `data:` event, comments dropped."""
    events: list[tuple[float, bytes]] = []
    rest = b""
    for arrived, piece in pieces:
        buffer = rest + piece if rest else piece
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        *blocks, rest = buffer.split(b"\n\n")
        for block in blocks:
            if data := _data_of(block):
                events.append((arrived, data))
    return events


def decode_events(payloads: list[bytes]) -> list[Event]:
    """Decode payloads in one call (a JSON array); on failure, find and name the bad one."""
    try:
        return MANY.decode(b"[" + b",".join(payloads) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        for data in payloads:
            try:
                DECODER.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ValueError(f"undecodable stream event ({exc}): {data[:120]!r}") from None
        raise


def apply_stream(record: RequestRecord, pieces: Iterable[tuple[float, bytes]]) -> None:
    """Fill `record`'s content times and usage from its stream; a bad stream sets `error`."""
    events = [(t, data) for t, data in split_events(pieces) if data != DONE]
    try:
        decoded = decode_events([data for _, data in events])
    except ValueError as exc:
        record.error = str(exc)
        return
    times = record.content_times
    for (arrived, _), event in zip(events, decoded, strict=True):
        if has_text(event):
            times.append(arrived)
        if event.usage is not None:
            record.usage_prompt_tokens = event.usage.prompt_tokens
            record.usage_completion_tokens = event.usage.completion_tokens
    if not times:
        record.error = "the stream carried no text"
