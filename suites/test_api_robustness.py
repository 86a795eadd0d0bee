"""API robustness: bad requests get the right 4xx and leave the service serving; a storm of
cancelled streams does not wedge it; max-num-seqs concurrent requests all succeed.

Bounds come from the catalog (deployments[].robustness): `short_after_storm_s` (a short
request after the storm must finish within it) and `storm_streams` (how many long
streams the client opens and cancels).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint, http_client, served_models, tokenize_text
from deploy_helpers.client.health import serving_problem
from deploy_helpers.serve.stack import Stack

# vLLM's wordings for a prompt over max_model_len, across versions
TOO_LONG = re.compile(
    r"maximum context length|max_model_len|longer than the maximum model length"
    r"|exceeds? (the|this) (model's )?(maximum|limit)|is too long",
    re.IGNORECASE,
)
DEFAULT_MAX_LOGPROBS = 20  # vLLM's --max-logprobs default
DEFAULT_MAX_NUM_SEQS = 256  # vLLM's --max-num-seqs default


def robustness_bound(target: Target, key: str) -> float:
    """A robustness bound of the catalog, or a failure naming the missing key."""
    bounds = target.deployment.robustness
    assert key in bounds, (
        f"catalog: {target.id} declares no robustness.{key}: set it in "
        f"models/{target.model.name}.yaml deployments[].robustness"
    )
    return bounds[key]


def post_prompt(
    http: httpx.Client, service: Endpoint, route: str, prompt: str, **body: object
) -> httpx.Response:
    """POST `prompt` to /v1/completions or (route "chat") /v1/chat/completions."""
    if route == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
        path = "/v1/chat/completions"
    else:
        body["prompt"] = prompt
        path = "/v1/completions"
    return http.post(path, json={"model": service.served_model_name, **body})


def long_prompt(service: Endpoint, max_model_len: int) -> str:
    """A prompt of more than max_model_len tokens (checked with /tokenize)."""
    prompt = "hello " * (max_model_len + 16)
    count = len(tokenize_text(service, prompt))
    assert count > max_model_len, f"could not build an over-long prompt ({count} tokens)"
    return prompt


@pytest.mark.parametrize("route", ["completions", "chat"])
def test_prompt_longer_than_max_model_len_is_rejected(service: Endpoint, route: str) -> None:
    model = next(m for m in served_models(service) if m["id"] == service.served_model_name)
    prompt = long_prompt(service, model["max_model_len"])
    with http_client(service) as http:
        response = post_prompt(http, service, route, prompt, max_tokens=4)
        assert response.status_code == 400, (
            f"{route}: a prompt over max_model_len {model['max_model_len']} got HTTP "
            f"{response.status_code}, expected 400; body {response.text[:300]!r}"
        )
        assert TOO_LONG.search(response.text), (
            f"{route}: the 400 does not say the prompt is too long: {response.text[:300]!r}"
        )
        assert not (problem := serving_problem(service, "a too-long prompt")), problem


def test_malformed_json_is_rejected(service: Endpoint) -> None:
    with http_client(service) as http:
        response = http.post(
            "/v1/chat/completions",
            content=b'{"model": "x", "messages": [',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, (
            f"malformed JSON got HTTP {response.status_code}, expected 400; "
            f"body {response.text[:300]!r}"
        )
        assert not (problem := serving_problem(service, "malformed JSON")), problem


def test_unknown_model_is_404(service: Endpoint) -> None:
    with http_client(service) as http:
        response = http.post(
            "/v1/completions", json={"model": "no-such-model", "prompt": "Hello", "max_tokens": 2}
        )
        assert response.status_code == 404, (
            f"an unknown model got HTTP {response.status_code}, expected 404; "
            f"body {response.text[:300]!r}"
        )
        assert not (problem := serving_problem(service, "an unknown model")), problem


@pytest.mark.parametrize("route", ["completions", "chat"])
def test_logprobs_above_limit_is_rejected(service: Endpoint, stack: Stack, route: str) -> None:
    limit = int(stack.flag("--max-logprobs") or DEFAULT_MAX_LOGPROBS)
    over = (
        {"logprobs": True, "top_logprobs": limit + 1}
        if route == "chat"
        else {"logprobs": limit + 1}
    )
    with http_client(service) as http:
        response = post_prompt(http, service, route, "Hello", max_tokens=2, **over)
        assert response.status_code == 400, (
            f"{route}: logprobs {limit + 1} (limit {limit}) got HTTP {response.status_code}, "
            f"expected 400; body {response.text[:300]!r}"
        )
        assert not (problem := serving_problem(service, "too many logprobs")), problem


def open_and_cancel(service: Endpoint) -> None:
    """Open a long stream, read its first chunks, and hang up."""
    body = {
        "model": service.served_model_name,
        "prompt": "Tell me a long story.",
        "max_tokens": 1000,
        "stream": True,
        "ignore_eos": True,
    }
    with http_client(service) as http, http.stream("POST", "/v1/completions", json=body) as stream:
        for index, _ in enumerate(stream.iter_lines()):
            if index >= 2:
                break


def test_short_request_after_cancelled_storm(
    service: Endpoint, target: Target, record_measurement
) -> None:
    bound = robustness_bound(target, "short_after_storm_s")
    streams = int(robustness_bound(target, "storm_streams"))
    with ThreadPoolExecutor(max_workers=min(streams, 64)) as pool:
        list(pool.map(lambda _: open_and_cancel(service), range(streams)))
    with http_client(service) as http:
        sent = time.perf_counter()
        response = http.post(
            "/v1/completions",
            json={"model": service.served_model_name, "prompt": "Hello", "max_tokens": 4},
        )
        took = time.perf_counter() - sent
    record_measurement(
        "short_after_storm", round(took, 3), "s", better="lower", bound=bound, storm_streams=streams
    )
    assert response.status_code == 200, (
        f"after {streams} cancelled streams, a short request failed: HTTP "
        f"{response.status_code} {response.text[:200]!r}"
    )
    assert took <= bound, (
        f"after {streams} cancelled streams, a short request took {took:.2f} s > bound "
        f"{bound} s: cancelled requests still occupy the engine"
    )


def test_max_num_seqs_concurrent_requests_succeed(service: Endpoint, stack: Stack) -> None:
    count = int(stack.flag("--max-num-seqs") or DEFAULT_MAX_NUM_SEQS)
    body = {
        "model": service.served_model_name,
        "prompt": "Count to ten:",
        "max_tokens": 8,
        "temperature": 0,
    }

    def one(_: int) -> tuple[int, str]:
        with http_client(service) as http:
            response = http.post("/v1/completions", json=body)
            return response.status_code, response.text[:160]

    with ThreadPoolExecutor(max_workers=min(count, 256)) as pool:
        results = list(pool.map(one, range(count)))
    failed = [r for r in results if r[0] != 200]
    assert not failed, (
        f"{len(failed)} of {count} concurrent requests (--max-num-seqs) failed, e.g. "
        f"HTTP {failed[0][0]} {failed[0][1]!r}"
    )
