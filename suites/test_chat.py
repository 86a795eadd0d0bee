"""`/v1/chat/completions`: determinism, lengths, usage, streaming, stop, golden answers.

Thinking models are asked with their switch off, so that answers are short and in
`content`; the thinking switch itself is qualified in test_chat_templates.py.
"""

from __future__ import annotations

import openai
import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint, thinking_switch, tokenize_chat
from deploy_helpers.client.streaming import chat_stream, stream_differences

MESSAGES = [{"role": "user", "content": "Tell me a short story about a lighthouse keeper."}]


def chat_args(service: Endpoint, target: Target, **kwargs) -> dict:
    """The arguments of a greedy chat completion of MESSAGES with thinking off, unless
    overridden."""
    extra = {**thinking_switch(target.model.chat.thinking, False), **kwargs.pop("extra_body", {})}
    return {
        "model": service.served_model_name,
        "messages": MESSAGES,
        "temperature": 0,
        "max_tokens": 24,
        "extra_body": extra,
        **kwargs,
    }


def chat(client: openai.OpenAI, service: Endpoint, target: Target, **kwargs):
    """A greedy chat completion of MESSAGES with thinking off, unless overridden."""
    return client.chat.completions.create(**chat_args(service, target, **kwargs))


def test_greedy_chat_is_deterministic(
    client: openai.OpenAI, service: Endpoint, target: Target
) -> None:
    texts = [chat(client, service, target).choices[0].message.content for _ in range(3)]
    assert len(set(texts)) == 1, f"greedy chat answers differ between identical requests: {texts}"


@pytest.mark.parametrize("max_tokens", [1, 9])
def test_chat_max_tokens_gives_length(
    client: openai.OpenAI, service: Endpoint, target: Target, max_tokens: int
) -> None:
    response = chat(client, service, target, max_tokens=max_tokens, extra_body={"ignore_eos": True})
    choice = response.choices[0]
    assert choice.finish_reason == "length", (
        f"max_tokens={max_tokens}: finish_reason {choice.finish_reason!r}, expected 'length'"
    )
    assert response.usage.completion_tokens == max_tokens, (
        f"max_tokens={max_tokens}: usage.completion_tokens {response.usage.completion_tokens}"
    )


def test_chat_usage_adds_up(client: openai.OpenAI, service: Endpoint, target: Target) -> None:
    usage = chat(client, service, target).usage
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens, (
        f"usage does not add up: {usage.prompt_tokens} + {usage.completion_tokens} "
        f"!= total {usage.total_tokens}"
    )
    kwargs = thinking_switch(target.model.chat.thinking, False).get("chat_template_kwargs")
    counted = tokenize_chat(service, MESSAGES, kwargs)["count"]
    assert usage.prompt_tokens == counted, (
        f"usage.prompt_tokens {usage.prompt_tokens} != {counted} tokens of the rendered "
        "prompt from /tokenize"
    )


def test_chat_stream_equals_non_stream(
    client: openai.OpenAI, service: Endpoint, target: Target
) -> None:
    whole = chat(client, service, target)
    stream = chat_stream(
        service, chat_args(service, target, stream_options={"include_usage": True})
    )
    differences = stream_differences(stream, whole, whole.choices[0].message.content or "", "chat ")
    assert not differences, "\n".join(differences)


def test_stop_string_ends_chat(client: openai.OpenAI, service: Endpoint, target: Target) -> None:
    long = {"ignore_eos": True}
    free = chat(client, service, target, max_tokens=32, extra_body=long)
    free = free.choices[0].message.content or ""
    words = free.split()
    assert len(words) >= 4, f"need a few words to choose a stop string from, got {free!r}"
    stop = words[len(words) // 2]
    expected = free[: free.index(stop)]
    choice = chat(client, service, target, max_tokens=32, stop=[stop], extra_body=long).choices[0]
    assert choice.finish_reason == "stop", (
        f"stop={stop!r}: finish_reason {choice.finish_reason!r}, expected 'stop'"
    )
    assert (choice.message.content or "") == expected, (
        f"stop={stop!r}: content {choice.message.content!r}, expected the text before it "
        f"{expected!r}"
    )


@pytest.mark.per_target(
    "golden", lambda s: [g for g in s.expected.model.golden_prompts if g.kind == "chat"]
)
def test_golden_chat(client: openai.OpenAI, service: Endpoint, target: Target, golden) -> None:
    response = chat(
        client,
        service,
        target,
        messages=[{"role": "user", "content": golden.prompt}],
        max_tokens=golden.max_tokens,
    )
    text = response.choices[0].message.content or ""
    missing = [word for word in golden.expect if word.lower() not in text.lower()]
    assert not missing, f"golden {golden.id}: answer {text!r} lacks {missing}"
