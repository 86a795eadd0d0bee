"""Prompts of an exact token length, built and checked with the server's `/tokenize`.

Each prompt is a different rotation of a seed text's tokens (so prefix caching cannot turn
the benchmark into cache hits), cut to length, turned back into text with `/detokenize`,
and tokenized again: the count the server reports must be the requested one, or the
prompt is adjusted and tried again.
"""

from __future__ import annotations

import asyncio

import httpx

from deploy_helpers.errors import SuiteError

SEED_TEXT = (
    "The lighthouse keeper climbed the spiral stairs every evening, trimmed the wick, wound "
    "the clockwork that turned the great lens, and wrote the weather in a leather book. "
    "Ships passing the reef at night counted the flashes to know which coast they were on; "
    "fishermen mended nets on the quay below while gulls argued over the morning catch. "
    "In winter the storms drove spray over the lantern room and the keeper's daughter "
    "learned to read the barometer, to splice rope, and to signal with flags in fog. "
)
ATTEMPTS = 8


class Tokenizer:
    """The server's `/tokenize` and `/detokenize` for plain prompts."""

    def __init__(self, client: httpx.AsyncClient, model: str) -> None:
        self.client = client
        self.model = model

    async def tokenize(self, prompt: str) -> list[int]:
        """Token ids of `prompt` as a completion request would count them."""
        response = await self.client.post("/tokenize", json={"model": self.model, "prompt": prompt})
        if response.status_code != 200:
            raise SuiteError(
                f"/tokenize answered {response.status_code}: exact-length "
                "prompts need vLLM's /tokenize route"
            )
        return response.json()["tokens"]

    async def detokenize(self, tokens: list[int]) -> str:
        """The text of `tokens`."""
        response = await self.client.post(
            "/detokenize", json={"model": self.model, "tokens": tokens}
        )
        response.raise_for_status()
        return response.json()["prompt"]


async def exact_prompt(
    tok: Tokenizer, body: list[int], special: int, length: int, rotation: int
) -> str:
    """A prompt that tokenizes to exactly `length` tokens (special tokens included)."""
    want = length - special
    if want < 1:
        raise SuiteError(f"prompt length {length} leaves no room beside {special} special tokens")
    start = rotation % len(body)
    ids = [body[(start + i) % len(body)] for i in range(want)]
    for _ in range(ATTEMPTS):
        text = await tok.detokenize(ids)
        got = len(await tok.tokenize(text))
        if got == length:
            return text
        # re-tokenizing merged or split pieces at the cut: trim or extend by the difference
        ids = (
            ids[: len(ids) - (got - length)]
            if got > length
            else (ids + [body[(start + len(ids) + i) % len(body)] for i in range(length - got)])
        )
    raise SuiteError(
        f"could not build a {length}-token prompt in {ATTEMPTS} tries "
        f"(the server's tokenizer does not round-trip this text)"
    )


async def build_prompts(
    base_url: str,
    model: str,
    length: int,
    count: int,
    headers: dict[str, str] | None = None,
    parallel: int = 16,
) -> list[str]:
    """`count` distinct prompts of exactly `length` tokens each."""
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60.0) as client:
        tok = Tokenizer(client, model)
        try:
            special = len(await tok.tokenize(""))
            body = (await tok.tokenize(SEED_TEXT * 4))[special:]
        except httpx.HTTPError as exc:
            raise SuiteError(f"endpoint {base_url} unreachable for /tokenize: {exc}") from None
        gate = asyncio.Semaphore(parallel)

        async def one(i: int) -> str:
            async with gate:
                return await exact_prompt(tok, body, special, length, rotation=i * 37)

        return list(await asyncio.gather(*(one(i) for i in range(count))))
