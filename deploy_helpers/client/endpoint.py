"""Talking to an OpenAI-compatible server: the endpoint record, clients, vLLM's extra routes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from deploy_helpers.errors import SuiteError

REQUEST_TIMEOUT_S = 120.0
API_KEY_ENV = "VLLM_API_KEY"  # vLLM's own variable: the server requires the key it holds


@dataclass(frozen=True)
class Endpoint:
    """A serving endpoint: where it is, which name it serves, and where its log is."""

    base_url: str
    served_model_name: str
    api_key: str | None = None
    log_path: Path | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header when an API key is set."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def __repr__(self) -> str:  # keeps the API key out of logs and assertion messages
        return f"Endpoint({self.base_url!r}, {self.served_model_name!r})"


def openai_client(endpoint: Endpoint, timeout_s: float = REQUEST_TIMEOUT_S) -> openai.OpenAI:
    """An OpenAI client for `endpoint` that never retries (a retry would hide a fault)."""
    return openai.OpenAI(
        base_url=f"{endpoint.base_url}/v1",
        api_key=endpoint.api_key or "unused",
        max_retries=0,
        timeout=timeout_s,
    )


def http_client(endpoint: Endpoint, timeout_s: float = REQUEST_TIMEOUT_S) -> httpx.Client:
    """A plain HTTP client for vLLM's non-OpenAI routes (/health, /tokenize, /version)."""
    return httpx.Client(base_url=endpoint.base_url, headers=endpoint.headers, timeout=timeout_s)


def served_models(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The `data` list of `/v1/models`."""
    with http_client(endpoint, timeout_s=10.0) as client:
        response = client.get("/v1/models")
        response.raise_for_status()
        return response.json()["data"]


def check_endpoint_serves(endpoint: Endpoint) -> None:
    """Raise a one-line error unless `endpoint` answers and lists its served model."""
    try:
        names = [m["id"] for m in served_models(endpoint)]
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        remedy = (": it wants an API key (--api-key or VLLM_API_KEY)" if not endpoint.api_key
                  else ": it refused the API key given (--api-key or VLLM_API_KEY)")
        raise SuiteError(f"endpoint {endpoint.base_url}/v1/models answered HTTP {code}"
                         f"{remedy if code == 401 else ''}") from None
    except httpx.HTTPError as exc:
        raise SuiteError(f"endpoint {endpoint.base_url} unreachable: {exc}") from None
    except (ValueError, KeyError, TypeError):
        raise SuiteError(
            f"endpoint {endpoint.base_url}/v1/models did not answer an OpenAI model list"
        ) from None
    if endpoint.served_model_name not in names:
        raise SuiteError(
            f"endpoint {endpoint.base_url} serves {names}, not '{endpoint.served_model_name}' "
            "(pass --served-model-name to match)"
        )


def engine_version(endpoint: Endpoint) -> str:
    """The serving engine's version from vLLM's `/version` route."""
    try:
        with http_client(endpoint, timeout_s=10.0) as client:
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
