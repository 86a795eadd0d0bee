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
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from deploy_helpers.client.chat_template import render_chat as render_template
from tests import faulty_features as ff
from tests.faulty_features import FEATURE_DEFECTS

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
    "stream_no_done": "streams end without their terminating data: [DONE]",
    "stream_data_after_done": "streams send another event after data: [DONE]",
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
# --served-model-name, --model's chat template (None: the built-in ChatML), --enforce-eager
CONFIG: dict[str, Any] = {"name": SERVED_NAME, "template": None, "eager": True}
app = FastAPI()
DELAY_S = float(os.environ.get("FAULTY_SERVER_DELAY_S", "0"))  # per generation request
API_KEY = os.environ.get("VLLM_API_KEY")  # as vLLM: given a key, /v1 routes require it


@app.middleware("http")
async def delay(request: Request, call_next: Any) -> Any:
    """Slow every generation request down by DELAY_S (to interrupt a run mid-way)."""
    if DELAY_S and request.url.path.startswith("/v1/") and request.method == "POST":
        await asyncio.sleep(DELAY_S)
    return await call_next(request)


# like vLLM's engine dying by itself under CPU starvation (shared notes, 2026-12-01): after
# this many generation requests the server logs vLLM's last words and exits with status 1
DIE_AFTER = int(os.environ.get("FAULTY_SERVER_DIE_AFTER", "0"))
ENGINE_DEATH = (
    "ERROR [core.py] EngineCore encountered a fatal error.\n"
    "TimeoutError: RPC call to execute_model timed out.\n"
    "ERROR [async_llm.py] AsyncLLM output_handler failed.\n"
    "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack "
    "trace (above) for the root cause.\n"
    "INFO [launcher.py] Shutting down FastAPI HTTP server."
)
GENERATIONS = itertools.count(1)


@app.middleware("http")
async def dies_by_itself(request: Request, call_next: Any) -> Any:
    """With FAULTY_SERVER_DIE_AFTER=N, the Nth generation request ends the server."""
    if DIE_AFTER and request.url.path.endswith("completions") and next(GENERATIONS) >= DIE_AFTER:
        print(ENGINE_DEATH, flush=True)
        os._exit(1)
    return await call_next(request)


@app.middleware("http")
async def require_api_key(request: Request, call_next: Any) -> Any:
    """Refuse /v1 requests that lack the server's API key with 401, as vLLM does."""
    sent = request.headers.get("authorization", "")
    if (
        API_KEY
        and request.url.path.startswith("/v1/")
        and sent != f"Bearer {API_KEY}"
        and not defect("ignores_api_key")
    ):
        return JSONResponse({"error": "Unauthorized"}, status_code=401)
    return await call_next(request)


def defect(name: str) -> bool:
    """Whether defect `name` is switched on."""
    return STATE["defect"] == name


def render_chat(messages: list[dict[str, Any]], body: dict[str, Any] | None = None) -> str:
    """The prompt of a chat: the --model chat template if any, else ChatML with a system."""
    if CONFIG["template"] is not None:
        body = body or {}
        kwargs = {} if defect("ignores_thinking_switch") else body.get("chat_template_kwargs")
        if defect("honours_other_switch") and kwargs and "thinking" in kwargs:
            kwargs = {**kwargs, "enable_thinking": kwargs["thinking"]}
        if defect("wrong_template"):
            messages = [{"role": "system", "content": "You are Qwen."}, *messages]
        return render_template(
            CONFIG["template"], messages, tools=body.get("tools") or None, template_kwargs=kwargs
        )
    if not messages or messages[0]["role"] != "system":
        messages = [{"role": "system", "content": SYSTEM}, *messages]
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def generate(prompt: str, body: dict[str, Any]) -> tuple[list[str], str]:
    """Word pieces and finish_reason for a request, with defects applied."""
    max_tokens = int(body.get("max_tokens") or 16)
    pieces = ff.capital_pieces(prompt, STATE["defect"], CONFIG["eager"]) or MODEL.continuation(
        prompt, wrong=defect("wrong_answer")
    )
    if (rng := ff.sampling_rng(body, STATE["defect"])) is not None:
        pieces = [" " + rng.choice(STORY) for _ in range(24)]
    if defect("graph_diverges") and not CONFIG["eager"] and len(pieces) > 2:
        pieces = [*pieces[:2], " lighthouse", *pieces[3:]]
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
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": total,
    }


def error(status: int, message: str) -> JSONResponse:
    """An OpenAI-style error body."""
    return JSONResponse(
        {"error": {"message": message, "type": "BadRequestError", "code": status}},
        status_code=status,
    )


@app.post("/_control")
async def control(request: Request) -> dict[str, Any]:
    """Switch the active defect (null = clean)."""
    name = (await request.json()).get("defect")
    if name is not None and name not in DEFECTS and name not in FEATURE_DEFECTS:
        return error(400, f"unknown defect {name}; known: {sorted(DEFECTS | FEATURE_DEFECTS)}")
    STATE["defect"] = name
    ff.STORM.update(cancelled=0, in_flight=0)
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
    name = "other-model" if defect("wrong_served_name") else CONFIG["name"]
    max_len = 4096 if defect("wrong_max_model_len") else MAX_MODEL_LEN
    return {
        "object": "list",
        "data": [{"id": name, "object": "model", "owned_by": "faulty", "max_model_len": max_len}],
    }


@app.post("/tokenize")
async def tokenize(request: Request) -> dict[str, Any]:
    """Token ids of a prompt or of a rendered chat."""
    body = await request.json()
    text = render_chat(body["messages"], body) if "messages" in body else body["prompt"]
    ids = MODEL.tokenize(text)
    return {"count": len(ids), "max_model_len": MAX_MODEL_LEN, "tokens": ids}


@app.post("/detokenize")
async def detokenize(request: Request) -> dict[str, Any]:
    """Text of token ids."""
    return {"prompt": MODEL.detokenize((await request.json())["tokens"])}


def _check_model(body: dict[str, Any]) -> JSONResponse | None:
    if body.get("model") != CONFIG["name"]:
        status = 400 if defect("unknown_model_400") else 404
        return error(status, f"The model `{body.get('model')}` does not exist.")
    return None


async def _read_body(request: Request) -> tuple[dict[str, Any] | None, JSONResponse | None]:
    """The JSON body, or vLLM's 400 for malformed JSON."""
    try:
        return await request.json(), None
    except ValueError:
        if defect("malformed_500"):
            return None, error(500, "Internal Server Error")
        return None, error(400, "JSON decode error")


def _request_error(body: dict[str, Any], prompt: str, chat: bool) -> JSONResponse | None:
    """vLLM's 4xx for a bad request (unknown model, too long, too many logprobs, ...)."""
    if (bad := _check_model(body)) is not None:
        return bad
    active = STATE["defect"]
    if chat and (message := ff.tool_choice_error(body, active)):
        return error(400, message)
    count = len(MODEL.tokenize(prompt))
    if count > MAX_MODEL_LEN:
        if defect("too_long_500"):
            return error(500, "Internal Server Error")
        return error(400, ff.too_long_message(count, MAX_MODEL_LEN))
    if (message := ff.logprobs_error(body, chat, active)) is not None:
        return error(400, message)
    if body.get("seed") is not None and defect("dies_on_seed"):
        os._exit(3)
    return None


async def _sse(events: list[dict[str, Any]]) -> AsyncIterator[str]:
    for event in events:
        yield f"data: {json.dumps(event)}\n\n"
        await asyncio.sleep(0)
    if not defect("stream_no_done"):
        yield "data: [DONE]\n\n"
    if defect("stream_data_after_done"):
        yield f"data: {json.dumps(events[-1])}\n\n"


def _stream_pieces(pieces: list[str]) -> list[str]:
    if defect("stream_drops_token") and len(pieces) > 1:
        return pieces[:1] + pieces[2:]
    return pieces


@app.post("/v1/completions")
async def completions(request: Request) -> Any:
    """Text completions, streamed or not."""
    body, bad = await _read_body(request)
    if bad is not None or (bad := _request_error(body, str(body.get("prompt", "")), False)):
        return bad
    prompt = body["prompt"]
    if body.get("stream") and defect("wedged_after_cancel"):
        ff.STORM["cancelled"] += 1
    elif defect("wedged_after_cancel"):
        await asyncio.sleep(min(0.25 * ff.STORM["cancelled"], 10.0))
    ff.STORM["in_flight"] += 1
    try:
        if defect("rejects_concurrency"):
            await asyncio.sleep(0.3)
            if ff.STORM["in_flight"] > 4:
                return error(503, "Service Unavailable: too many requests in flight")
    finally:
        ff.STORM["in_flight"] -= 1
    pieces, finish = generate(prompt, body)
    use = usage(len(MODEL.tokenize(prompt)), len(pieces))
    base = {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": CONFIG["name"],
    }
    if defect("completions_without_choices"):
        return {**base, "usage": use}
    if not body.get("stream"):
        return {
            **base,
            "choices": [
                {"index": 0, "text": "".join(pieces), "finish_reason": finish, "logprobs": None}
            ],
            "usage": use,
        }
    events = [
        {**base, "choices": [{"index": 0, "text": p, "finish_reason": None}]}
        for p in _stream_pieces(pieces)
    ]
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


def _chat_turn(body: dict[str, Any], prompt: str) -> tuple[list[str], list[str], list, str]:
    """(reasoning pieces, content pieces, tool calls, finish_reason) of a chat request."""
    messages, active = body["messages"], STATE["defect"]
    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    tools = body.get("tools") or []
    if (answer := ff.tool_result_answer(messages, active)) is not None:
        return [], re.findall(r"\s*\S+", answer), [], "stop"
    due = ff.bfcl_calls(last_user, tools, active) if tools else None
    calls = (
        due
        if due is not None
        else ff.planned_calls(last_user, tools, body.get("tool_choice", "auto"), active)
        if tools
        else []
    )
    if not tools and (city := ff.chat_capital_pieces(messages, active, CONFIG["eager"])):
        return [], city, [], "stop"
    if calls:
        forced = isinstance(body.get("tool_choice"), dict)
        finish = "stop" if forced or defect("finish_stop_on_tool_call") else "tool_calls"
        return [], [], ff.encode_calls(calls, active), finish
    thinking = CONFIG["template"] is not None and not prompt.endswith("</think>\n\n")
    if not thinking:
        pieces, finish = generate(last_user, body)
        reasoning, content = ff.split_thought(pieces, False, active)
        return reasoning, content, [], finish
    answer_pieces, _ = generate(last_user, {**body, "max_tokens": 10_000})
    raw = ff.thought_pieces(answer_pieces)
    max_tokens = int(body.get("max_tokens") or 16)
    finish = "length" if len(raw) > max_tokens else "stop"
    reasoning, content = ff.split_thought(raw[:max_tokens], True, active)
    return reasoning, content, [], finish


def _logprobs(pieces: list[str]) -> dict[str, Any]:
    return {
        "content": [{"token": p, "logprob": 0.0, "bytes": None, "top_logprobs": []} for p in pieces]
    }


def _call_deltas(base: dict, calls: list[dict]) -> list[dict]:
    """Stream events of tool calls: name first, then argument fragments."""
    events = []
    for index, call in enumerate(calls):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        events.append(
            {
                **base,
                "choices": [{"index": 0, "delta": {"tool_calls": [head]}, "finish_reason": None}],
            }
        )
        args = call["function"]["arguments"]
        fragments = [args[i : i + 6] for i in range(0, len(args), 6)]
        if defect("stream_drops_arg_fragment") and len(fragments) > 2:
            fragments.pop(1)
        events += [
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": index, "function": {"arguments": f}}]},
                        "finish_reason": None,
                    }
                ],
            }
            for f in fragments
        ]
    return events


@app.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Any:
    """Chat completions, streamed or not, with reasoning and tool calls."""
    body, bad = await _read_body(request)
    if bad is not None:
        return bad
    prompt = render_chat(body.get("messages") or [], body)
    if (bad := _request_error(body, prompt, True)) is not None:
        return bad
    reasoning, pieces, calls, finish = _chat_turn(body, prompt)
    use = usage(len(MODEL.tokenize(prompt)), len(reasoning) + len(pieces) + len(calls))
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": CONFIG["name"],
    }
    content = "".join(pieces).lstrip()
    thought = "".join(reasoning).strip() or None
    if not body.get("stream"):
        message = {
            "role": "assistant",
            "content": content if content or not calls else None,
            "reasoning": thought,
        }
        if calls:
            message["tool_calls"] = calls
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": finish,
            "logprobs": _logprobs(pieces) if body.get("logprobs") else None,
        }
        return {**base, "choices": [choice], "usage": use}
    base["object"] = "chat.completion.chunk"
    events = [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        }
    ]
    events += [
        {**base, "choices": [{"index": 0, "delta": {"reasoning": r}, "finish_reason": None}]}
        for r in reasoning
    ]
    events += [
        {**base, "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]}
        for c in _stream_pieces(re.findall(r"\s*\S+", content))
    ]
    events += _call_deltas(base, calls)
    events += _closing(base, {"delta": {}}, finish, use, body)
    return StreamingResponse(_sse(events), media_type="text/event-stream")


def main() -> None:
    """Serve on 127.0.0.1:PORT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--defect",
        choices=sorted(DEFECTS | FEATURE_DEFECTS),
        default=os.environ.get("FAULTY_SERVER_DEFECT"),
    )
    parser.add_argument("--served-model-name", default=SERVED_NAME)
    parser.add_argument(
        "--model",
        default=None,
        help="weights dir; its chat_template.jinja replaces the built-in ChatML",
    )
    parser.add_argument("--enforce-eager", action="store_true")
    args, _vllm_flags = parser.parse_known_args()
    if os.environ.get("FAULTY_SERVER_EXIT_AT_START"):
        sys.exit("faulty server: refusing to start (FAULTY_SERVER_EXIT_AT_START)")
    STATE["defect"] = args.defect
    template = Path(args.model or "") / "chat_template.jinja"
    CONFIG.update(
        name=args.served_model_name,
        eager=args.enforce_eager,
        template=template.read_text() if args.model and template.is_file() else None,
    )
    eager = args.enforce_eager or args.defect == "graph_mode_ignored"
    # the log lines vLLM 0.32 CPU prints in each mode (the graph-mode suite looks for them)
    print(
        "WARNING [vllm.py] Enforce eager set, disabling torch.compile"
        if eager
        else "INFO [cpu_model_runner.py] Warming up model for the compilation...",
        flush=True,
    )
    if API_KEY:
        print("INFO [faulty_server.py] API key required on /v1 routes", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
