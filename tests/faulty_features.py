"""Chat-template, thinking, tool-call, robustness, seed and graph-mode behaviour of the
faulty server (tests/faulty_server.py), with the defects that break each of them.

Clean, it behaves like vLLM with `--reasoning-parser qwen3 --tool-call-parser hermes`
serving a Qwen3-style template: hermes `<tool_call>` JSON parsed into `tool_calls`,
thoughts split into `reasoning`, and vLLM's 400/404 answers to bad requests.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from functools import cache
from typing import Any

from deploy_helpers.client import bfcl
from deploy_helpers.paths import PACKAGE

# defect name -> what it breaks (tests/test_feature_faults.py maps each to its check)
FEATURE_DEFECTS: dict[str, str] = {
    "wrong_template": "the served prompt is not the weights' chat template",
    "ignores_thinking_switch": "chat_template_kwargs are ignored: thinking stays on",
    "think_leak": "the thought and its <think> tags are left in content",
    "reasoning_dropped": "thinking on: the thought is dropped, no reasoning arrives",
    "empty_answer_after_thought": "thinking on: the thought ends but content stays empty",
    "reasoning_when_off": "thinking off: the reply still carries reasoning",
    "honours_other_switch": "the template also reads DeepSeek's `thinking` switch",
    "tool_args_invalid": "tool-call arguments are a JSON string, not a schema-valid object",
    "stream_drops_arg_fragment": "a streamed tool call loses one argument fragment",
    "duplicate_tool_ids": "parallel tool calls share one id",
    "no_parallel_calls": "only the first of several due calls is made",
    "finish_stop_on_tool_call": "finish_reason 'stop' after an auto/required tool call",
    "ignores_tool_result": "the answer after a tool result ignores its value",
    "calls_irrelevant": "tools are called for questions none of them fits",
    "ignores_tool_choice_none": "tool_choice 'none' still calls a tool",
    "bad_tool_choice_accepted": "tool_choice naming an unknown function is accepted (200)",
    "too_long_500": "a prompt over max_model_len gets HTTP 500",
    "malformed_500": "malformed JSON gets HTTP 500",
    "unknown_model_400": "an unknown model gets 400 instead of 404",
    "logprobs_unchecked": "logprobs above the limit are accepted",
    "wedged_after_cancel": "cancelled streams keep the engine busy: later requests are slow",
    "rejects_concurrency": "more than 4 concurrent requests get HTTP 503",
    "ignores_seed": "a seed does not make sampling repeatable",
    "seed_no_effect": "sampling gives one text whatever the seed",
    "dies_on_seed": "the server process exits on a request with a seed",
    "graph_diverges": "greedy text differs when not in eager mode",
    "graph_mode_ignored": "the compiled mode runs (and logs) eager",
    "ignores_api_key": "/v1 requests without the API key, or with a wrong one, are served",
    "wrong_capitals": "the accuracy task's questions get another country's capital",
    "graph_wrong_capitals": "capitals are answered wrong when not in eager mode",
    "completions_without_choices": "/v1/completions answers 200 without `choices`",
    "bfcl_wrong_args": "BFCL questions get the due calls with wrong argument values",
}

CITIES = ("Paris", "Tokyo", "Berlin", "London")
CURRENCIES = {
    "usd": "USD",
    "dollars": "USD",
    "eur": "EUR",
    "euros": "EUR",
    "jpy": "JPY",
    "yen": "JPY",
}
THOUGHT = "The user asks a question. I recall the fact and answer briefly."
MAX_LOGPROBS = 20
STORM = {"cancelled": 0, "in_flight": 0}


def _weather_calls(question: str) -> list[tuple[str, dict[str, Any]]]:
    if not re.search(r"weather|warm|temperature", question, re.IGNORECASE):
        return []
    unit = {"unit": "fahrenheit"} if "fahrenheit" in question.lower() else {}
    return [("get_weather", {"city": city, **unit}) for city in CITIES if city in question]


def _stock_calls(question: str) -> list[tuple[str, dict[str, Any]]]:
    if not re.search(r"stock|trading", question, re.IGNORECASE):
        return []
    return [("get_stock_price", {"symbol": s}) for s in re.findall(r"\b[A-Z]{2,5}\b", question)]


def _currency_calls(question: str) -> list[tuple[str, dict[str, Any]]]:
    amount = re.search(r"\d+(?:\.\d+)?", question)
    codes = [CURRENCIES[w] for w in re.findall(r"[a-z]+", question.lower()) if w in CURRENCIES]
    if not re.search(r"convert|how many", question, re.IGNORECASE) or not amount:
        return []
    if len(codes) < 2:
        return []
    source, dest = codes[0], codes[1]
    if re.search(r"how many", question, re.IGNORECASE):  # "how many X for N Y": Y -> X
        source, dest = dest, source
    value = float(amount.group())
    return [
        (
            "convert_currency",
            {
                "amount": int(value) if value.is_integer() else value,
                "from_currency": source,
                "to_currency": dest,
            },
        )
    ]


def planned_calls(
    question: str, tools: list[dict[str, Any]], choice: Any, defect: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The calls the "model" makes for `question` under `tool_choice`."""
    names = [t["function"]["name"] for t in tools]
    if choice == "none" and defect != "ignores_tool_choice_none":
        return []
    calls = [
        c
        for c in _weather_calls(question) + _stock_calls(question) + _currency_calls(question)
        if c[0] in names
    ]
    if isinstance(choice, dict):
        wanted = choice["function"]["name"]
        calls = [c for c in calls if c[0] == wanted] or [(wanted, {})]
    elif not calls and (
        choice == "required" or defect in ("calls_irrelevant", "ignores_tool_choice_none")
    ):
        calls = [(names[0], {})]
    if defect == "no_parallel_calls":
        calls = calls[:1]
    return calls


def tool_choice_error(body: dict[str, Any], defect: str | None) -> str | None:
    """vLLM's 400 message for a tool_choice the request cannot have, if any."""
    choice, tools = body.get("tool_choice"), body.get("tools")
    if choice in (None, "none", "auto") or defect == "bad_tool_choice_accepted":
        return None
    if not tools:
        return "When using `tool_choice`, `tools` must be set. (parameter=tool_choice)"
    if isinstance(choice, dict):
        names = [t["function"]["name"] for t in tools]
        if choice.get("function", {}).get("name") not in names:
            return (
                "The tool specified in `tool_choice` does not match any of the "
                "specified `tools` (parameter=tool_choice)"
            )
    return None


def encode_calls(calls: list[tuple[str, dict[str, Any]]], defect: str | None) -> list[dict]:
    """OpenAI `tool_calls` of the parsed hermes output, with the defects applied."""
    shared = f"chatcmpl-tool-{uuid.uuid4().hex[:16]}"
    encoded = []
    for name, args in calls:
        arguments = json.dumps(args)
        if defect == "tool_args_invalid":  # what vLLM 0.32 CPU returned: a bare JSON string
            arguments = json.dumps(next(iter(args.values()), "celsius"))
        call_id = (
            shared if defect == "duplicate_tool_ids" else f"chatcmpl-tool-{uuid.uuid4().hex[:16]}"
        )
        encoded.append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        )
    return encoded


def tool_result_answer(messages: list[dict[str, Any]], defect: str | None) -> str | None:
    """The answer after a tool result (None when the last turn is no tool result)."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    if defect == "ignores_tool_result":
        return "I could not get that information right now."
    try:
        result = json.loads(messages[-1].get("content") or "")
    except ValueError:
        return f"The tool said: {messages[-1].get('content')}"
    if isinstance(result, dict):
        return "The tool reports " + ", ".join(f"{k} {v}" for k, v in result.items()) + "."
    return f"The tool reports {result}."


def split_thought(
    pieces: list[str], thinking: bool, defect: str | None
) -> tuple[list[str], list[str]]:
    """(reasoning pieces, content pieces) of a raw output, as a qwen3 reasoning parser."""
    if not thinking:
        return (thought_words() if defect == "reasoning_when_off" else []), pieces
    if defect == "think_leak":
        return [], pieces
    if "\n</think>\n\n" in pieces:
        end = pieces.index("\n</think>\n\n")
        if defect == "reasoning_dropped":
            return [], pieces[end + 1 :]
        if defect == "empty_answer_after_thought":
            return pieces[1:end], []
        return pieces[1:end], pieces[end + 1 :]
    return pieces[1:], []  # the thought was cut before </think>


def thought_words() -> list[str]:
    """The thought, one piece per word."""
    return [" " + w for w in THOUGHT.split()]


def thought_pieces(answer: list[str]) -> list[str]:
    """The raw output of a thinking turn: <think>, the thought, </think>, the answer."""
    return ["<think>\n", *thought_words(), "\n</think>\n\n", *answer]


def sampling_rng(body: dict[str, Any], defect: str | None) -> random.Random | None:
    """The RNG of a sampled (temperature > 0) request; None for greedy."""
    if not float(body.get("temperature") or 0) > 0:
        return None
    if defect == "seed_no_effect":
        return random.Random(0)
    seed = body.get("seed")
    if seed is None or defect == "ignores_seed":
        return random.Random()
    return random.Random(seed)


def too_long_message(count: int, max_model_len: int) -> str:
    """vLLM 0.32's 400 message for a prompt over max_model_len."""
    return (
        f"This model's maximum context length is {max_model_len} tokens. However, your "
        f"prompt contains at least {count} input tokens, which exceeds this limit even "
        "without any output tokens. Please reduce the length of the input prompt."
    )


def logprobs_error(body: dict[str, Any], chat: bool, defect: str | None) -> str | None:
    """vLLM's 400 message for more logprobs than the limit."""
    wanted = body.get("top_logprobs") if chat else body.get("logprobs")
    if not isinstance(wanted, int) or wanted <= MAX_LOGPROBS or defect == "logprobs_unchecked":
        return None
    return (
        f"Requested sample logprobs of {wanted}, which is greater than max allowed: {MAX_LOGPROBS}"
    )


# --------------------------------------------------------------------------- task scores


@cache
def _capitals() -> dict[str, str]:
    """country -> capital of the shipped capitals task (the double knows every one)."""
    rows = []
    for name in ("capitals_test.jsonl", "capitals_fewshot.jsonl"):
        text = (PACKAGE / "tasks" / name).read_text(encoding="utf-8")
        rows += [json.loads(line) for line in text.splitlines() if line.strip()]
    return {r["country"]: r["capital"] for r in rows}


TASK_QUESTION = re.compile(r"capital of ([^?\n]+)\?\nA:\s*$")  # the capitals task's prompt end
CHAT_QUESTION = re.compile(r"What is the capital of ([^?\n]+)\?")  # capitals_chat's user turn


def _capital(country: str, defect: str | None, eager: bool) -> list[str] | None:
    """The capital of `country` as word pieces (None: not a task country), with the defects."""
    countries = list(_capitals())
    if country not in countries:
        return None
    if defect == "wrong_capitals" or (defect == "graph_wrong_capitals" and not eager):
        country = countries[(countries.index(country) + 1) % len(countries)]
    return re.findall(r"\s*\S+", " " + _capitals()[country])


def capital_pieces(prompt: str, defect: str | None, eager: bool) -> list[str] | None:
    """The answer to a capitals-task prompt (None for other prompts), with the defects."""
    asked = TASK_QUESTION.search(prompt)
    return _capital(asked.group(1), defect, eager) if asked else None


def chat_capital_pieces(
    messages: list[dict[str, Any]], defect: str | None, eager: bool
) -> list[str] | None:
    """The answer to a capitals_chat request: its few-shot turns before the question (a
    lone "What is the capital of France?" is the golden prompt, answered as a model would)."""
    if not any(m["role"] == "assistant" for m in messages):
        return None
    asked = CHAT_QUESTION.fullmatch(str(messages[-1].get("content", "")).strip())
    return _capital(asked.group(1), defect, eager) if asked else None


def _offered(names: list[str]) -> tuple[str, ...]:
    return tuple(sorted(name.replace(".", "_") for name in names))


@cache
def _bfcl_cases() -> dict[tuple[str, tuple[str, ...]], bfcl.BfclCase]:
    """The BFCL cases of the default categories by last user message and functions offered."""
    return {
        (case.messages[-1]["content"], _offered([f["name"] for f in case.functions])): case
        for category in bfcl.CATEGORIES[:5]
        for case in bfcl.load_category(category)
    }


def _first(options: list[Any]) -> Any:
    """The first acceptable value of a possible-answer list ("" means: may be omitted)."""
    return next((_value(o) for o in options if o != ""), None)


def _value(option: Any) -> Any:
    """A possible-answer option as a plain value (nested dicts list alternatives again)."""
    if isinstance(option, dict):
        return {k: v for k, v in ((k, _first(alts)) for k, alts in option.items()) if v is not None}
    if isinstance(option, list):
        return [_value(item) for item in option]
    return option


def _wrong(value: Any) -> Any:
    """A value no possible answer accepts."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 7
    if isinstance(value, str):
        return value[::-1] + "!"
    return type(value)()


def bfcl_calls(
    question: str, tools: list[dict[str, Any]], defect: str | None
) -> list[tuple[str, dict[str, Any]]] | None:
    """The calls a perfect model makes for a BFCL question with its functions (None: not a
    BFCL question), names as offered ("." sent as "_"), with the defects applied."""
    case = _bfcl_cases().get((question, _offered([t["function"]["name"] for t in tools])))
    if case is None:
        return None
    calls = []
    for due in case.ground_truth or []:
        ((name, params),) = due.items()
        args = {k: v for k, v in ((k, _first(alts)) for k, alts in params.items()) if v is not None}
        if defect == "bfcl_wrong_args":
            args = {k: _wrong(v) for k, v in args.items()}
        calls.append((name.replace(".", "_"), args))
    return calls
