"""Collect OpenAI streaming responses into the fields the suites compare."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from deploy_helpers.client.endpoint import reasoning_of


@dataclass
class StreamResult:
    """What a stream carried: text, reasoning, every finish_reason seen, the final usage."""

    text: str = ""
    reasoning: str = ""
    finish_reasons: list[str] = field(default_factory=list)
    usage: Any = None
    tool_call_fragments: dict[int, dict[str, str]] = field(default_factory=dict)


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
    differences = []
    if stream.text != text:
        differences.append(f"streamed {what}text differs at temperature 0:\n stream: "
                           f"{stream.text!r}\n whole:  {text!r}")
    finish = whole.choices[0].finish_reason
    if stream.finish_reasons != [finish]:
        differences.append(f"stream carried finish_reasons {stream.finish_reasons}, expected "
                           f"exactly one ({finish!r})")
    if stream.usage is None:
        differences.append("include_usage: no usage chunk at the end of the stream")
    elif stream.usage.completion_tokens != whole.usage.completion_tokens:
        differences.append(f"stream usage {stream.usage.completion_tokens} tokens != non-stream "
                           f"{whole.usage.completion_tokens}")
    return differences
