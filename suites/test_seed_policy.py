"""Request seeds: the same seed at temperature 1 repeats its text, different seeds differ.

Where the catalog waives seeds (vllm-mindspore, seed 000 §5.2: a seed may crash the
service) these tests run last (fixtures/graph_modes.py orders them) and record whether
the service survived; the waiver covers a seed that is not honoured or refused, never a
service that died (deploy_helpers/catalog/known_issues.py).
"""

from __future__ import annotations

import openai
import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint, thinking_switch
from deploy_helpers.client.health import serving_problem

MESSAGES = [{"role": "user", "content": "Write one sentence about the sea."}]


def sample(client: openai.OpenAI, service: Endpoint, target: Target, seed: int) -> str:
    """A temperature-1 answer with `seed`."""
    response = client.chat.completions.create(
        model=service.served_model_name,
        messages=MESSAGES,
        temperature=1.0,
        max_tokens=32,
        seed=seed,
        extra_body=thinking_switch(target.model.chat.thinking, False),
    )
    return response.choices[0].message.content or ""


def seeded(client, service, target, record_measurement, seeds: tuple[int, int]) -> list[str]:
    """Two seeded answers; fails naming the cause when the service does not survive them."""
    texts, failure = [], None
    for seed in seeds:
        try:
            texts.append(sample(client, service, target, seed))
        except openai.APIError as exc:
            failure = f"seed {seed}: request failed ({type(exc).__name__}: {exc})"
            break
    problem = serving_problem(service, "seeded requests")
    record_measurement("service_survived_seed", problem is None, "bool")
    assert problem is None, problem
    if failure:
        pytest.fail(f"{failure}; the service survived", pytrace=False)
    return texts


def test_seed_same_seed_same_text(
    client: openai.OpenAI, service: Endpoint, target: Target, record_measurement
) -> None:
    first, second = seeded(client, service, target, record_measurement, (1234, 1234))
    assert first == second, (
        f"seed 1234 at temperature 1 gave different texts:\n {first!r}\n {second!r}"
    )


def test_seed_different_seeds_differ(
    client: openai.OpenAI, service: Endpoint, target: Target, record_measurement
) -> None:
    first, second = seeded(client, service, target, record_measurement, (1, 2))
    assert first != second, f"seeds 1 and 2 at temperature 1 gave the same text: {first!r}"
