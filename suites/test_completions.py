"""`/v1/models` and `/v1/completions`: listing, determinism, lengths, usage, streaming, stop."""

from __future__ import annotations

import openai
import pytest

from deploy_helpers.client.endpoint import Endpoint, served_models, tokenize_text
from deploy_helpers.client.streaming import completion_stream, stream_differences
from deploy_helpers.serve.stack import Stack
from deploy_helpers.weights.config import served_context

PROMPT = "Once upon a time, in a small village by the sea, there lived"
LONG_OUTPUT = {"ignore_eos": True}  # vLLM extension: do not stop at EOS


def completion_args(service: Endpoint, **kwargs) -> dict:
    """The arguments of a greedy completion of PROMPT unless overridden."""
    return {
        "model": service.served_model_name,
        "prompt": PROMPT,
        "temperature": 0,
        "max_tokens": 24,
        **kwargs,
    }


def completion(client: openai.OpenAI, service: Endpoint, **kwargs):
    """A greedy completion of PROMPT unless overridden."""
    return client.completions.create(**completion_args(service, **kwargs))


def test_models_lists_served_name_and_max_model_len(
    stack: Stack, service: Endpoint, request: pytest.FixtureRequest
) -> None:
    models = {m["id"]: m for m in served_models(service)}
    assert service.served_model_name in models, (
        f"/v1/models lists {sorted(models)}, not the served name {service.served_model_name!r}"
    )
    listed = models[service.served_model_name].get("max_model_len")
    assert isinstance(listed, int) and listed > 0, f"/v1/models max_model_len is {listed!r}"
    declared = stack.flag("--max-model-len")
    if declared is not None and stack.simulated:
        # the stand-in model served on the twin holds no more than its own context
        limit = served_context(request.getfixturevalue("weights_dir"))
        declared = min(int(declared), limit) if limit else declared
    if declared is not None:
        assert listed == int(declared), (
            f"/v1/models max_model_len {listed} != catalog --max-model-len {declared}"
        )


def test_greedy_completion_is_deterministic(client: openai.OpenAI, service: Endpoint) -> None:
    texts = [completion(client, service).choices[0].text for _ in range(3)]
    assert len(set(texts)) == 1, f"greedy completions differ between identical requests: {texts}"


@pytest.mark.parametrize("max_tokens", [1, 7])
def test_max_tokens_gives_length(client: openai.OpenAI, service: Endpoint, max_tokens: int) -> None:
    response = completion(client, service, max_tokens=max_tokens, extra_body=LONG_OUTPUT)
    choice = response.choices[0]
    assert choice.finish_reason == "length", (
        f"max_tokens={max_tokens}: finish_reason {choice.finish_reason!r}, expected 'length'"
    )
    assert response.usage.completion_tokens == max_tokens, (
        f"max_tokens={max_tokens}: usage.completion_tokens {response.usage.completion_tokens}"
    )


def test_completion_usage_adds_up(client: openai.OpenAI, service: Endpoint) -> None:
    usage = completion(client, service).usage
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens, (
        f"usage does not add up: {usage.prompt_tokens} + {usage.completion_tokens} "
        f"!= total {usage.total_tokens}"
    )
    counted = len(tokenize_text(service, PROMPT))
    assert usage.prompt_tokens == counted, (
        f"usage.prompt_tokens {usage.prompt_tokens} != {counted} tokens from /tokenize"
    )


def test_completion_stream_equals_non_stream(client: openai.OpenAI, service: Endpoint) -> None:
    whole = completion(client, service)
    stream = completion_stream(
        service, completion_args(service, stream_options={"include_usage": True})
    )
    differences = stream_differences(stream, whole, whole.choices[0].text, "")
    assert not differences, "\n".join(differences)


def test_stop_string_ends_completion(client: openai.OpenAI, service: Endpoint) -> None:
    free = completion(client, service, max_tokens=32, extra_body=LONG_OUTPUT).choices[0].text
    words = free.split()
    assert len(words) >= 4, f"need a few words to choose a stop string from, got {free!r}"
    stop = words[len(words) // 2]
    expected = free[: free.index(stop)]
    choice = completion(
        client, service, max_tokens=32, stop=[stop], extra_body=LONG_OUTPUT
    ).choices[0]
    assert choice.finish_reason == "stop", (
        f"stop={stop!r}: finish_reason {choice.finish_reason!r}, expected 'stop'"
    )
    assert choice.text == expected, (
        f"stop={stop!r}: text {choice.text!r}, expected the text before it {expected!r}"
    )


@pytest.mark.per_target(
    "golden", lambda s: [g for g in s.expected.model.golden_prompts if g.kind == "completion"]
)
def test_golden_completion(client: openai.OpenAI, service: Endpoint, golden) -> None:
    text = completion(client, service, prompt=golden.prompt, max_tokens=golden.max_tokens)
    text = text.choices[0].text
    missing = [word for word in golden.expect if word.lower() not in text.lower()]
    assert not missing, f"golden {golden.id}: answer {text!r} lacks {missing}"
