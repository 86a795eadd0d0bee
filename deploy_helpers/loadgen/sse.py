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


def has_text(event: Event) -> bool:
    """Whether an event carries generated text (content or reasoning)."""
    for choice in event.choices:
        if choice.text:
            return True
        delta = choice.delta
        if delta is not None and (delta.content or delta.reasoning or delta.reasoning_content):
            return True
    return False


def split_events(pieces: Iterable[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """(arrival time, data payload) of every complete `data:` event, comments dropped."""
    events: list[tuple[float, bytes]] = []
    buffer = b""
    for arrived, piece in pieces:
        buffer += piece
        if b"\n\n" not in buffer and b"\r\n\r\n" not in buffer:
            continue
        *complete, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n\n")
        for block in complete:
            data = b"\n".join(line[5:].lstrip() for line in block.split(b"\n")
                              if line.startswith(b"data:"))
            if data:
                events.append((arrived, data))
    return events


def apply_stream(record: RequestRecord, pieces: Iterable[tuple[float, bytes]]) -> None:
    """Fill `record`'s content times and usage from its stream; a bad stream sets `error`."""
    for arrived, data in split_events(pieces):
        if data == b"[DONE]":
            continue
        try:
            event = DECODER.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            record.error = f"undecodable stream event ({exc}): {data[:120]!r}"
            return
        if has_text(event):
            record.content_times.append(arrived)
        if event.usage is not None:
            record.usage_prompt_tokens = event.usage.prompt_tokens
            record.usage_completion_tokens = event.usage.completion_tokens
    if not record.content_times and record.error is None:
        record.error = "the stream carried no text"
