"""Request seeds: the same seed at temperature 1 repeats its text, different seeds differ.

Where the catalog waives seeds (vllm-mindspore, seed 000 §5.2: a seed may crash the
service) these tests run last (fixtures/graph_modes.py orders them), record whether the
service survived, and are waived with the catalog's reason until its expiry date; an
expired waiver fails.
"""

from __future__ import annotations

import datetime as dt

import httpx
import openai
import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint, http_client, thinking_switch
from fixtures.selection import matching_issues

MESSAGES = [{"role": "user", "content": "Write one sentence about the sea."}]


def check_waiver(request: pytest.FixtureRequest, target: Target) -> None:
    """Fail at once when a seed waiver of the catalog has expired."""
    today = dt.date.today()
    for issue in matching_issues(request.node, target):
        if issue.kind == "waiver" and issue.expires and issue.expires < today:
            pytest.fail(f"catalog waiver expired on {issue.expires} ({issue.reason}): "
                        "re-qualify seeds on this engine or renew the waiver", pytrace=False)


def sample(client: openai.OpenAI, service: Endpoint, target: Target, seed: int) -> str:
    """A temperature-1 answer with `seed`."""
    response = client.chat.completions.create(
        model=service.served_model_name, messages=MESSAGES, temperature=1.0, max_tokens=32,
        seed=seed, extra_body=thinking_switch(target.model.chat.thinking, False),
    )
    return response.choices[0].message.content or ""


def survived(service: Endpoint, request: pytest.FixtureRequest) -> bool:
    """Whether the service still answers /health; recorded in the report."""
    try:
        with http_client(service, timeout_s=10.0) as http:
            alive = http.get("/health").status_code == 200
    except httpx.HTTPError:
        alive = False
    request.node.user_properties.append(("service_survived_seed", alive))
    return alive


def seeded(client, service, target, request, seeds: tuple[int, int]) -> list[str]:
    """Two seeded answers; fails naming the cause when the service does not survive them."""
    texts = []
    for seed in seeds:
        try:
            texts.append(sample(client, service, target, seed))
        except openai.APIError as exc:
            alive = survived(service, request)
            pytest.fail(f"seed {seed}: request failed ({type(exc).__name__}: {exc}); the "
                        f"service {'survived' if alive else 'did NOT survive (crashed)'}",
                        pytrace=False)
    assert survived(service, request), (
        "the service did NOT survive seeded requests (/health fails afterwards)"
    )
    return texts


def test_seed_same_seed_same_text(client: openai.OpenAI, service: Endpoint, target: Target,
                                  request: pytest.FixtureRequest) -> None:
    check_waiver(request, target)
    first, second = seeded(client, service, target, request, (1234, 1234))
    assert first == second, (
        f"seed 1234 at temperature 1 gave different texts:\n {first!r}\n {second!r}"
    )


def test_seed_different_seeds_differ(client: openai.OpenAI, service: Endpoint, target: Target,
                                     request: pytest.FixtureRequest) -> None:
    check_waiver(request, target)
    first, second = seeded(client, service, target, request, (1, 2))
    assert first != second, f"seeds 1 and 2 at temperature 1 gave the same text: {first!r}"
