"""Collect OpenAI streaming responses into the fields the suites compare.

The stream-vs-whole checks read the raw server-sent events (`completion_stream`,
`chat_stream`): the openai client ends a stream quietly where the server stopped, so only
the raw events show whether it sent its terminating `data: [DONE]`, and nothing after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from deploy_helpers.client.endpoint import Endpoint, http_client, reasoning_of

DONE = "[DONE]"


@dataclass
class StreamResult:
    """What a stream carried: text, reasoning, every finish_reason seen, the final usage, and
    (read raw) what was wrong with its end."""

    text: str = ""
    reasoning: str = ""
    finish_reasons: list[str] = field(default_factory=list)
    usage: Any = None
    tool_call_fragments: dict[int, dict[str, str]] = field(default_factory=dict)
    end_problems: list[str] = field(default_factory=list)


class Chunk(SimpleNamespace):
    """One streamed event's JSON with attribute access, like the openai client's chunks; a
    field the event does not carry reads as None."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def _chunk(value: Any) -> Any:
    if isinstance(value, dict):
        return Chunk(**{key: _chunk(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_chunk(item) for item in value]
    return value


def read_events(
    endpoint: Endpoint, path: str, args: dict[str, Any]
) -> tuple[list[Chunk], list[str]]:
    """POST the openai-style call `args` (its `extra_body` merged in) as a stream to `path`
    and read the raw server-sent events: the data events before `data: [DONE]`, and one
    line per problem with the stream's end (no [DONE], or data after it)."""
    body = {key: value for key, value in args.items() if key != "extra_body"}
    body = {**body, **args.get("extra_body", {}), "stream": True}
    events: list[Chunk] = []
    after: list[str] = []
    done = False
    with http_client(endpoint) as http, http.stream("POST", path, json=body) as response:
        if response.status_code != 200:
            response.read()
            response.raise_for_status()
        for line in response.iter_lines():
            if not line.strip() or line.startswith(":"):  # event separator, SSE comment
                continue
            payload = line.removeprefix("data:").strip()
            if done:
                after.append(line)
            elif payload == DONE:
                done = True
            else:
                events.append(_chunk(json.loads(payload)))
    problems = (
        []
        if done
        else [
            f"the stream ended without data: {DONE} (after {len(events)} "
            "events): a client cannot tell it from a cut connection"
        ]
    )
    if after:
        problems.append(
            f"the stream sent {len(after)} line(s) after data: {DONE}, e.g. {after[0][:120]!r}"
        )
    return events, problems


def completion_stream(endpoint: Endpoint, args: dict[str, Any]) -> StreamResult:
    """The `/v1/completions` call `args`, streamed, read raw and joined."""
    events, problems = read_events(endpoint, "/v1/completions", args)
    result = collect_completion_stream(events)
    result.end_problems = problems
    return result


def chat_stream(endpoint: Endpoint, args: dict[str, Any]) -> StreamResult:
    """The `/v1/chat/completions` call `args`, streamed, read raw and joined."""
    events, problems = read_events(endpoint, "/v1/chat/completions", args)
    result = collect_chat_stream(events)
    result.end_problems = problems
    return result


def collect_completion_stream(chunks: Iterable[Any]) -> StreamResult:
    """Join a `/v1/completions` stream."""
    result = StreamResult()
    for chunk in chunks:
        if chunk.usage is not None:
            result.usage = chunk.usage
        for choice in chunk.choices:
            result.text += choice.text or ""
            if choice.finish_reason is not None:
                result.finish_reasons.append(choice.finish_reason)
    return result


def collect_chat_stream(chunks: Iterable[Any]) -> StreamResult:
    """Join a `/v1/chat/completions` stream, including reasoning and tool-call fragments."""
    result = StreamResult()
    for chunk in chunks:
        if chunk.usage is not None:
            result.usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            result.text += delta.content or ""
            result.reasoning += reasoning_of(delta) or ""
            for call in delta.tool_calls or []:
                slot = result.tool_call_fragments.setdefault(
                    call.index, {"id": "", "name": "", "arguments": ""}
                )
                slot["id"] += call.id or ""
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
            if choice.finish_reason is not None:
                result.finish_reasons.append(choice.finish_reason)
    return result


def stream_differences(stream: StreamResult, whole: Any, text: str, what: str) -> list[str]:
    """How `stream` differs from `whole`, the same greedy request answered at once, whose text
    is `text` (`what` names the route in the messages); empty when it does not."""
    differences = list(stream.end_problems)
    if stream.text != text:
        differences.append(
            f"streamed {what}text differs at temperature 0:\n stream: "
            f"{stream.text!r}\n whole:  {text!r}"
        )
    finish = whole.choices[0].finish_reason
    if stream.finish_reasons != [finish]:
        differences.append(
            f"stream carried finish_reasons {stream.finish_reasons}, expected "
            f"exactly one ({finish!r})"
        )
    if stream.usage is None:
        differences.append("include_usage: no usage chunk at the end of the stream")
    elif stream.usage.completion_tokens != whole.usage.completion_tokens:
        differences.append(
            f"stream usage {stream.usage.completion_tokens} tokens != non-stream "
            f"{whole.usage.completion_tokens}"
        )
    return differences
