"""Whether a service still answers after something was done to it: the one helper the
suites use after a rejected request, a storm, or seeded requests."""

from __future__ import annotations

import httpx

from deploy_helpers.client.endpoint import Endpoint, http_client


def serving_problem(endpoint: Endpoint, after: str) -> str | None:
    """None while `/health` is 200 and a small completion succeeds; else what went wrong,
    one line (a service that no longer answers is said to have died)."""
    try:
        with http_client(endpoint) as http:
            health = http.get("/health")
            if health.status_code != 200:
                return f"after {after}, /health answers HTTP {health.status_code}"
            reply = http.post(
                "/v1/completions",
                json={"model": endpoint.served_model_name, "prompt": "Hello", "max_tokens": 2},
            )
    except httpx.HTTPError as exc:
        return f"after {after}, the service died: {type(exc).__name__}: {exc}"
    if reply.status_code != 200:
        return (
            f"after {after}, the next request failed: HTTP {reply.status_code} {reply.text[:200]!r}"
        )
    return None
