"""Access: a service with an API key refuses /v1 requests that lack it or carry a wrong one.

A bring-up of the suite's own always has a key (--api-key, VLLM_API_KEY, or a fresh one the
run makes), so this runs on every managed deployment; an --endpoint given without a key has
no key to check. vLLM guards /v1 (and /v2, /inference) routes only: /health stays open.
"""

from __future__ import annotations

import pytest

from deploy_helpers.client.endpoint import Endpoint, http_client

WRONG_KEY = "not-the-service-key"


def guarded_requests(service: Endpoint) -> list[tuple[str, str, dict | None]]:
    """(method, path, body) of the /v1 routes the suites use."""
    name = service.served_model_name
    return [
        ("GET", "/v1/models", None),
        ("POST", "/v1/completions", {"model": name, "prompt": "Hello", "max_tokens": 1}),
        (
            "POST",
            "/v1/chat/completions",
            {"model": name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1},
        ),
    ]


@pytest.mark.parametrize("credential", ["no-key", "wrong-key"])
def test_v1_routes_refuse_requests_without_the_key(service: Endpoint, credential: str) -> None:
    if not service.api_key:
        pytest.skip("--endpoint given without --api-key: no key to check the service requires")
    headers = {"Authorization": f"Bearer {WRONG_KEY}"} if credential == "wrong-key" else {}
    served = []
    with http_client(service, headers=headers) as http:
        for method, path, body in guarded_requests(service):
            response = http.request(method, path, json=body)
            if response.status_code != 401:
                served.append(f"{method} {path} -> HTTP {response.status_code}")
    assert not served, (
        f"with {credential.replace('-', ' ')}, expected HTTP 401 but the service answered "
        f"{served}: it is served without its API key"
    )
