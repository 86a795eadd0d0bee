"""Asking a served model for tool calls the way a client does, and reading them back.

`tool_request` builds a greedy chat request offering a case's functions (`tools`, with a
`tool_choice`), thinking off; `answer` sends it, streamed or not, and returns the calls,
the finish reason and the text, the streamed fragments joined per call index.
"""

from __future__ import annotations

import json
from typing import Any

import openai

from deploy_helpers.catalog.schema import ThinkingSwitch
from deploy_helpers.client.endpoint import thinking_switch
from deploy_helpers.client.streaming import collect_chat_stream
from deploy_helpers.client.tool_calls import Call

# The longest answer the cases are due (two calls in one turn, hermes or DeepSeek form) is
# under 70 tokens; a prose answer where a call is due is judged by its start.
MAX_TOKENS = 128


def tool_request(
    model: str,
    question: str,
    tools: list[dict[str, Any]],
    thinking: ThinkingSwitch | None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Arguments of a greedy chat request asking `question` with `tools`, thinking off."""
    return {
        "model": model,
        "temperature": 0,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": question}],
        "tools": tools,
        "extra_body": thinking_switch(thinking, False),
        **kwargs,
    }


def answer(
    client: openai.OpenAI, args: dict[str, Any], stream: bool
) -> tuple[list[Call], str | None, str]:
    """Tool calls, finish_reason and content of a request, streamed or not."""
    if not stream:
        choice = client.chat.completions.create(**args).choices[0]
        calls = [
            Call(c.id, c.function.name, c.function.arguments)
            for c in choice.message.tool_calls or []
        ]
        return calls, choice.finish_reason, choice.message.content or ""
    joined = collect_chat_stream(client.chat.completions.create(**args, stream=True))
    calls = [
        Call(f["id"] or None, f["name"], f["arguments"])
        for _, f in sorted(joined.tool_call_fragments.items())
    ]
    finish = joined.finish_reasons[-1] if joined.finish_reasons else None
    return calls, finish, joined.text


def shown(calls: list[Call]) -> str:
    """Calls as `name(arguments)` for messages."""
    return ", ".join(f"{c.name}({c.arguments})" for c in calls) or "no call"


def parsed(calls: list[Call]) -> list[tuple[str, Any]]:
    """(name, parsed arguments) per call; unparsable arguments stay strings."""
    out = []
    for call in calls:
        try:
            out.append((call.name, json.loads(call.arguments)))
        except ValueError:
            out.append((call.name, call.arguments))
    return out


def id_problems(calls: list[Call]) -> list[str]:
    """Calls without an id, or sharing one."""
    ids = [c.id for c in calls]
    if not all(ids):
        return [f"tool call without an id: {ids} ({shown(calls)})"]
    if len(set(ids)) != len(ids):
        return [f"tool call ids are not unique: {ids}"]
    return []
