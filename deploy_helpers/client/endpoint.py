"""Talking to an OpenAI-compatible server: the endpoint record, clients, vLLM's extra routes.

Every client of the suite is built here (`http_client`, `openai_client`), and every request
it sends is bounded by the profile's `serve.request_bounds`: an httpx request hook sets the
request's timeout from its own max_tokens, so a hung engine ends the request in bounded
time, and `timeout_message` names the URL, the kind of request and its bound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai

from deploy_helpers.catalog.schema import RequestBounds
from deploy_helpers.errors import SuiteError

API_KEY_ENV = "VLLM_API_KEY"  # vLLM's own variable: the server requires the key it holds
DEFAULT_MAX_TOKENS = 16  # what vLLM generates for a completion that sets no max_tokens
BOUND = "suite_request_bound"  # request.extensions key of the RequestBound a request got


@dataclass(frozen=True)
class Endpoint:
    """A serving endpoint: where it is, which name it serves, where its log is, and how long
    its requests may take."""

    base_url: str
    served_model_name: str
    api_key: str | None = None
    log_path: Path | None = None
    bounds: RequestBounds = field(default_factory=RequestBounds)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header when an API key is set."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def __repr__(self) -> str:  # keeps the API key out of logs and assertion messages
        return f"Endpoint({self.base_url!r}, {self.served_model_name!r})"


@dataclass(frozen=True)
class RequestBound:
    """The timeout one request was given: what kind of request, how long, and why."""

    kind: str
    seconds: float
    basis: str


ROUTE_KINDS = {
    "health": "health check",
    "models": "model list",
    "version": "engine version",
    "tokenize": "tokenize",
    "detokenize": "detokenize",
}


def _kind(path: str, body: dict[str, Any]) -> str:
    if path.endswith("/chat/completions"):
        kind = "chat completion"
    elif path.endswith("/completions"):
        kind = "completion"
    else:
        return ROUTE_KINDS.get(path.rstrip("/").rsplit("/", 1)[-1], "request")
    return f"streamed {kind}" if body.get("stream") else kind


def request_bound(bounds: RequestBounds, path: str, body: dict[str, Any] | None) -> RequestBound:
    """The bound of one request: a generation waits first_token_s + max_tokens x
    per_token_s (a stream first_token_s for each next event), at least floor_s; any
    other request floor_s."""
    body = body or {}
    kind = _kind(path, body)
    if not path.endswith("completions"):
        return RequestBound(kind, bounds.floor_s, f"floor {bounds.floor_s:g} s")
    if body.get("stream"):
        wait = bounds.first_token_s + bounds.per_token_s
        basis = (
            f"first token {bounds.first_token_s:g} s + {bounds.per_token_s:g} s, the "
            "longest wait for the stream's next event"
        )
    else:
        tokens = int(
            body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
        )
        wait = bounds.first_token_s + tokens * bounds.per_token_s
        basis = (
            f"first token {bounds.first_token_s:g} s + {tokens} tokens x {bounds.per_token_s:g} s"
        )
    if wait < bounds.floor_s:
        return RequestBound(kind, bounds.floor_s, f"floor {bounds.floor_s:g} s")
    return RequestBound(kind, wait, basis)


def _json_body(request: httpx.Request) -> dict[str, Any] | None:
    if request.method != "POST" or "json" not in request.headers.get("content-type", ""):
        return None
    try:
        body = json.loads(request.content or b"null")
    except ValueError:  # a deliberately malformed body (robustness suite)
        return None
    return body if isinstance(body, dict) else None


def bounding_hook(bounds: RequestBounds) -> Any:
    """An httpx request hook that sets each request's timeout to its `request_bound`."""

    def bound(request: httpx.Request) -> None:
        found = request_bound(bounds, request.url.path, _json_body(request))
        request.extensions["timeout"] = httpx.Timeout(found.seconds).as_dict()
        request.extensions[BOUND] = found

    return bound


def http_client(endpoint: Endpoint, headers: dict[str, str] | None = None) -> httpx.Client:
    """An HTTP client for `endpoint` (vLLM's routes, raw streams) whose every request is
    bounded; `headers` replaces the endpoint's (e.g. to send no key, or a wrong one)."""
    return httpx.Client(
        base_url=endpoint.base_url,
        headers=endpoint.headers if headers is None else headers,
        timeout=endpoint.bounds.floor_s,
        event_hooks={"request": [bounding_hook(endpoint.bounds)]},
    )


def openai_client(endpoint: Endpoint) -> openai.OpenAI:
    """An OpenAI client for `endpoint` that never retries (a retry would hide a fault), its
    every request bounded."""
    transport = httpx.Client(
        timeout=endpoint.bounds.floor_s, event_hooks={"request": [bounding_hook(endpoint.bounds)]}
    )
    return openai.OpenAI(
        base_url=f"{endpoint.base_url}/v1",
        api_key=endpoint.api_key or "unused",
        max_retries=0,
        http_client=transport,
    )


def timeout_message(exc: BaseException) -> str | None:
    """One line for a request that ran out of its bound (an httpx or openai timeout, or an
    error caused by one): its method and URL, its kind and its bound; None otherwise."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.TimeoutException, openai.APITimeoutError)):
            try:
                request = seen.request
            except RuntimeError:  # an httpx timeout raised outside a request
                return None
            bound = request.extensions.get(BOUND)
            if bound is None:
                return None
            return (
                f"timed out: {request.method} {request.url} ({bound.kind}) got no answer "
                f"within its bound of {bound.seconds:g} s ({bound.basis}; the profile's "
                "serve.request_bounds)"
            )
        seen = seen.__cause__ or seen.__context__
    return None


def served_models(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The `data` list of `/v1/models`."""
    with http_client(endpoint) as client:
        response = client.get("/v1/models")
        response.raise_for_status()
        return response.json()["data"]


def check_endpoint_serves(endpoint: Endpoint) -> None:
    """Raise a one-line error unless `endpoint` answers and lists its served model."""
    try:
        names = [m["id"] for m in served_models(endpoint)]
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        remedy = (
            ": it wants an API key (--api-key or VLLM_API_KEY)"
            if not endpoint.api_key
            else ": it refused the API key given (--api-key or VLLM_API_KEY)"
        )
        raise SuiteError(
            f"endpoint {endpoint.base_url}/v1/models answered HTTP {code}"
            f"{remedy if code == 401 else ''}"
        ) from None
    except httpx.HTTPError as exc:
        raise SuiteError(
            f"endpoint {endpoint.base_url} unreachable ({type(exc).__name__}: "
            f"{exc}): start the deployment, or give the address its OpenAI "
            "server listens on"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise SuiteError(
            f"endpoint {endpoint.base_url}/v1/models did not answer an OpenAI model list"
        ) from None
    if endpoint.served_model_name not in names:
        raise SuiteError(
            f"endpoint {endpoint.base_url} serves {names}, not '{endpoint.served_model_name}': "
            "pass --served-model-name NAME if it serves the model under another name, or "
            "--model of the catalog entry it serves"
        )


def engine_version(endpoint: Endpoint) -> str:
    """The serving engine's version from vLLM's `/version` route."""
    try:
        with http_client(endpoint) as client:
            response = client.get("/version")
            response.raise_for_status()
            return str(response.json().get("version", "unknown"))
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return f"unavailable ({type(exc).__name__})"


def tokenize_chat(
    endpoint: Endpoint, messages: list[dict], chat_template_kwargs: dict | None = None
) -> dict[str, Any]:
    """vLLM's `/tokenize` for a chat: the rendered prompt's token ids and count."""
    body: dict[str, Any] = {
        "model": endpoint.served_model_name,
        "messages": messages,
        "add_generation_prompt": True,
    }
    if chat_template_kwargs is not None:
        body["chat_template_kwargs"] = chat_template_kwargs
    with http_client(endpoint) as client:
        response = client.post("/tokenize", json=body)
        response.raise_for_status()
        return response.json()


def tokenize_text(endpoint: Endpoint, prompt: str) -> list[int]:
    """vLLM's `/tokenize` for a plain prompt: its token ids."""
    with http_client(endpoint) as client:
        response = client.post(
            "/tokenize", json={"model": endpoint.served_model_name, "prompt": prompt}
        )
        response.raise_for_status()
        return response.json()["tokens"]


def detokenize(endpoint: Endpoint, tokens: list[int]) -> str:
    """vLLM's `/detokenize`: the text of `tokens`."""
    with http_client(endpoint) as client:
        response = client.post(
            "/detokenize", json={"model": endpoint.served_model_name, "tokens": tokens}
        )
        response.raise_for_status()
        return response.json()["prompt"]


def reasoning_of(message: Any) -> str | None:
    """The reasoning text of a chat message or delta: `reasoning` (vLLM >= 0.10) or
    `reasoning_content` (older vLLM)."""
    for name in ("reasoning", "reasoning_content"):
        value = getattr(message, name, None)
        if value is None and getattr(message, "model_extra", None):
            value = message.model_extra.get(name)
        if value:
            return value
    return None


def thinking_switch(thinking: Any, on: bool) -> dict[str, Any]:
    """`extra_body` that turns a model's thinking switch on or off ({} if it has none)."""
    if thinking is None:
        return {}
    return {"chat_template_kwargs": {thinking.kwarg: on}}
