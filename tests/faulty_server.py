"""A deliberately faulty OpenAI-compatible server: the suite's own proof that checks can fail.

It imitates the vLLM routes the suites use with a tiny deterministic "model" (one token per
word), and carries switchable defects. Clean mode passes every suite check; each defect
breaks one behaviour so that the check guarding it must fail and name the cause.

Run: python -m tests.faulty_server --port 8123 [--defect NAME]
It also accepts (and ignores) the other vLLM serve flags, so a test catalog can use it as
the "engine" of a profile and exercise the real launcher code path cheaply.
Switch at run time: POST /_control {"defect": "NAME"} (or null for clean).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

SERVED_NAME = "smollm2-135m"
MAX_MODEL_LEN = 2048
SYSTEM = "You are a helpful assistant."

# defect name -> what it breaks (the tests in tests/ map each to the check it must fail)
DEFECTS: dict[str, str] = {
    "wrong_served_name": "/v1/models lists another model name",
    "wrong_max_model_len": "/v1/models reports a max_model_len the catalog did not set",
    "nondeterministic": "greedy requests return different text",
    "ignores_max_tokens": "generates one token more than max_tokens",
    "stop_instead_of_length": "finish_reason 'stop' when max_tokens cut the text",
    "usage_total_off": "usage.total_tokens is not prompt + completion",
    "prompt_tokens_off": "usage.prompt_tokens disagrees with /tokenize",
    "stream_drops_token": "the stream loses one token of the text",
    "stream_double_finish": "the stream carries two finish_reason chunks",
    "stream_no_usage": "include_usage is ignored",
    "ignores_stop": "stop strings do not end the text",
    "stop_included": "the stop string is left in the text",
    "wrong_answer": "golden prompts get a wrong answer",
}

ANSWERS = {
    "capital of france": "The capital of France is Paris.",
    "12 + 30": "42",
}
STORY = tuple(
    "the keeper climbed the stairs each night and lit the great lamp while waves broke on "
    "the rocks below and ships passed safely through the dark water toward the harbour".split(" ")
)


class Model:
    """A deterministic word-level "model" with a growing vocabulary for /tokenize."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.words: list[str] = []

    def tokenize(self, text: str) -> list[int]:
        """One token per word piece (a word with its leading space, or a newline)."""
        ids = []
        for piece in re.findall(r"\s*\S+|\s+", text):
            if piece not in self.vocab:
                self.vocab[piece] = len(self.words)
                self.words.append(piece)
            ids.append(self.vocab[piece])
        return ids

    def detokenize(self, ids: list[int]) -> str:
        """The text of `ids`."""
        return "".join(self.words[i] for i in ids)

    def continuation(self, prompt: str, wrong: bool) -> list[str]:
        """The word pieces the model "generates" for `prompt`, before its EOS."""
        lowered = prompt.lower()
        for key, answer in ANSWERS.items():
            if key in lowered:
                text = "Lyon." if wrong and "france" in key else answer
                if lowered.rstrip().endswith("is"):
                    text = " " + text.split(" is ", 1)[-1]
                return re.findall(r"\s*\S+", text)
        start = sum(map(ord, prompt)) % len(STORY)
        words = list(itertools.islice(itertools.cycle(STORY), start, start + 40))
        return [" " + w for w in words]


MODEL = Model()
STATE: dict[str, Any] = {"defect": None}
app = FastAPI()
DELAY_S = float(os.environ.get("FAULTY_SERVER_DELAY_S", "0"))  # per generation request


@app.middleware("http")
async def delay(request: Request, call_next: Any) -> Any:
    """Slow every generation request down by DELAY_S (to interrupt a run mid-way)."""
    if DELAY_S and request.url.path.startswith("/v1/") and request.method == "POST":
        await asyncio.sleep(DELAY_S)
    return await call_next(request)


def defect(name: str) -> bool:
    """Whether defect `name` is switched on."""
    return STATE["defect"] == name


def render_chat(messages: list[dict[str, Any]]) -> str:
    """ChatML rendering with a default system prompt."""
    if not messages or messages[0]["role"] != "system":
        messages = [{"role": "system", "content": SYSTEM}, *messages]
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def generate(prompt: str, body: dict[str, Any]) -> tuple[list[str], str]:
    """Word pieces and finish_reason for a request, with defects applied."""
    max_tokens = int(body.get("max_tokens") or 16)
    pieces = MODEL.continuation(prompt, wrong=defect("wrong_answer"))
    if body.get("ignore_eos"):
        pieces = list(itertools.islice(itertools.cycle(pieces), max_tokens + 8))
    if defect("nondeterministic"):
        pieces = [*pieces[:2], f" {random.choice(STORY)}{random.randint(0, 999)}", *pieces[2:]]
    finish = "stop"
    limit = max_tokens + 1 if defect("ignores_max_tokens") else max_tokens
    if len(pieces) > max_tokens:
        pieces, finish = pieces[:limit], "length"
    if finish == "length" and defect("stop_instead_of_length"):
        finish = "stop"
    stops = body.get("stop") or []
    stops = [stops] if isinstance(stops, str) else stops
    text = "".join(pieces)
    for stop in stops:
        if stop in text and not defect("ignores_stop"):
            cut = text.index(stop) + (len(stop) if defect("stop_included") else 0)
            pieces, finish = re.findall(r"\s*\S+|\s+$", text[:cut]), "stop"
            break
    return pieces, finish


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """The usage record, with the usage defects applied."""
    if defect("prompt_tokens_off"):
        prompt_tokens += 3
    total = prompt_tokens + completion_tokens + (1 if defect("usage_total_off") else 0)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": total}


def error(status: int, message: str) -> JSONResponse:
    """An OpenAI-style error body."""
    return JSONResponse({"error": {"message": message, "type": "BadRequestError",
                                   "code": status}}, status_code=status)


@app.post("/_control")
async def control(request: Request) -> dict[str, Any]:
    """Switch the active defect (null = clean)."""
    name = (await request.json()).get("defect")
    if name is not None and name not in DEFECTS:
        return error(400, f"unknown defect {name}; known: {sorted(DEFECTS)}")
    STATE["defect"] = name
    return {"defect": name}


@app.get("/health")
async def health() -> dict[str, str]:
    """Liveness."""
    return {}


@app.get("/version")
async def version() -> dict[str, str]:
    """Engine version, as vLLM reports it."""
    return {"version": "0.0.0-faulty"}


@app.get("/v1/models")
async def models() -> dict[str, Any]:
    """The served model and its context length."""
    name = "other-model" if defect("wrong_served_name") else SERVED_NAME
    max_len = 4096 if defect("wrong_max_model_len") else MAX_MODEL_LEN
    return {"object": "list", "data": [
        {"id": name, "object": "model", "owned_by": "faulty", "max_model_len": max_len}
    ]}


@app.post("/tokenize")
async def tokenize(request: Request) -> dict[str, Any]:
    """Token ids of a prompt or of a rendered chat."""
    body = await request.json()
    text = render_chat(body["messages"]) if "messages" in body else body["prompt"]
    ids = MODEL.tokenize(text)
    return {"count": len(ids), "max_model_len": MAX_MODEL_LEN, "tokens": ids}


@app.post("/detokenize")
async def detokenize(request: Request) -> dict[str, Any]:
    """Text of token ids."""
    return {"prompt": MODEL.detokenize((await request.json())["tokens"])}


def _check_model(body: dict[str, Any]) -> JSONResponse | None:
    if body.get("model") != SERVED_NAME:
        return error(404, f"The model `{body.get('model')}` does not exist.")
    return None


async def _sse(events: list[dict[str, Any]]) -> AsyncIterator[str]:
    for event in events:
        yield f"data: {json.dumps(event)}\n\n"
        await asyncio.sleep(0)
    yield "data: [DONE]\n\n"


def _stream_pieces(pieces: list[str]) -> list[str]:
    if defect("stream_drops_token") and len(pieces) > 1:
        return pieces[:1] + pieces[2:]
    return pieces


@app.post("/v1/completions")
async def completions(request: Request) -> Any:
    """Text completions, streamed or not."""
    body = await request.json()
    if (bad := _check_model(body)) is not None:
        return bad
    prompt = body["prompt"]
    pieces, finish = generate(prompt, body)
    use = usage(len(MODEL.tokenize(prompt)), len(pieces))
    base = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
            "created": int(time.time()), "model": SERVED_NAME}
    if not body.get("stream"):
        return {**base, "choices": [{"index": 0, "text": "".join(pieces),
                                     "finish_reason": finish, "logprobs": None}], "usage": use}
    events = [{**base, "choices": [{"index": 0, "text": p, "finish_reason": None}]}
              for p in _stream_pieces(pieces)]
    events += _closing(base, {"text": ""}, finish, use, body)
    return StreamingResponse(_sse(events), media_type="text/event-stream")


def _closing(base: dict, empty: dict, finish: str, use: dict, body: dict) -> list[dict]:
    key = "delta" if "delta" in empty else "text"
    payload = empty["delta"] if key == "delta" else ""
    final = [{**base, "choices": [{"index": 0, key: payload, "finish_reason": finish}]}]
    if defect("stream_double_finish"):
        final *= 2
    wants_usage = (body.get("stream_options") or {}).get("include_usage")
    if wants_usage and not defect("stream_no_usage"):
        final.append({**base, "choices": [], "usage": use})
    return final


@app.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Any:
    """Chat completions, streamed or not."""
    body = await request.json()
    if (bad := _check_model(body)) is not None:
        return bad
    prompt = render_chat(body["messages"])
    last_user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    pieces, finish = generate(last_user, body)
    use = usage(len(MODEL.tokenize(prompt)), len(pieces))
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": SERVED_NAME}
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(pieces).lstrip()}
        return {**base, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": use}
    base["object"] = "chat.completion.chunk"
    text = "".join(pieces).lstrip()
    chunks = re.findall(r"\s*\S+", text)
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]}
               for c in _stream_pieces(chunks)]
    events += _closing(base, {"delta": {}}, finish, use, body)
    return StreamingResponse(_sse(events), media_type="text/event-stream")


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--defect", choices=sorted(DEFECTS), default=None)
    args, _vllm_flags = parser.parse_known_args()
    if os.environ.get("FAULTY_SERVER_EXIT_AT_START"):
        sys.exit("faulty server: refusing to start (FAULTY_SERVER_EXIT_AT_START)")
    STATE["defect"] = args.defect
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
