"""Function calls: tool_choice auto / required / named / none, parallel calls, tool results,
irrelevance, bad tool_choice, and BFCL-style pass rates against the catalog's floors.

Arguments must parse to an object valid against the tool's JSON Schema; a streamed call
must join to the same object as the non-streamed one. Thinking models are asked with
their switch off (vLLM documents tool calling in non-thinking mode). What a model cannot
do is declared in its catalog entry as a strict expected failure, with the reason.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint, http_client
from deploy_helpers.client.tool_calls import (
    CATEGORIES,
    ToolCase,
    call_problems,
    load_cases,
    load_tools,
    tools_of,
)
from deploy_helpers.client.tool_client import answer, id_problems, parsed, shown
from deploy_helpers.client.tool_client import tool_request as client_request

DATA = Path(__file__).resolve().parent / "data" / "tool_calls"
TOOLS = load_tools(DATA)
WEATHER = next(c for c in load_cases(DATA, "simple") if c.id == "weather-paris")
TWO_CITIES = next(c for c in load_cases(DATA, "parallel") if c.id == "weather-paris-tokyo")
UNRELATED = next(c for c in load_cases(DATA, "irrelevance") if c.id == "haiku")
NAMED = {"type": "function", "function": {"name": "get_weather"}}
TOOL_RESULT = {"city": "Paris", "temperature_c": 17, "condition": "light rain"}


def tool_request(target: Target, service: Endpoint, case: ToolCase, **kwargs: Any) -> dict:
    """A greedy chat request for `case` offering its tools, thinking off."""
    return client_request(
        service.served_model_name,
        case.question,
        tools_of(case, TOOLS),
        target.model.chat.thinking,
        **kwargs,
    )


def check_due_call(
    client: openai.OpenAI, args: dict, case: ToolCase, stream: bool, finish_reasons: tuple[str, ...]
) -> None:
    """The call `case` needs is made, valid, and (streamed) equal to the non-streamed one."""
    calls, finish, _ = answer(client, args, stream)
    mode = "stream" if stream else "non-stream"
    assert calls, f"{mode}: no tool call where one is due (finish_reason {finish!r})"
    if stream:
        whole, _, _ = answer(client, args, stream=False)
        assert parsed(calls) == parsed(whole), (
            f"streamed argument fragments join to {shown(calls)}, the non-streamed call is "
            f"{shown(whole)}"
        )
    problems = call_problems(case, calls, TOOLS)
    assert not problems, f"{mode}: " + "; ".join(problems)
    assert finish in finish_reasons, (
        f"{mode}: finish_reason {finish!r} for {shown(calls)}, expected one of {finish_reasons}"
    )
    assert not (problems := id_problems(calls)), problems[0]


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])


@STREAM
def test_tool_choice_auto(
    client: openai.OpenAI, service: Endpoint, target: Target, stream: bool
) -> None:
    args = tool_request(target, service, WEATHER, tool_choice="auto")
    check_due_call(client, args, WEATHER, stream, ("tool_calls",))


@STREAM
def test_tool_choice_required(
    client: openai.OpenAI, service: Endpoint, target: Target, stream: bool
) -> None:
    args = tool_request(target, service, WEATHER, tool_choice="required")
    check_due_call(client, args, WEATHER, stream, ("tool_calls",))


@STREAM
def test_tool_choice_named(
    client: openai.OpenAI, service: Endpoint, target: Target, stream: bool
) -> None:
    # OpenAI ends a forced (named) call with "stop"; vLLM may say "tool_calls": both are fine
    args = tool_request(target, service, WEATHER, tool_choice=NAMED)
    check_due_call(client, args, WEATHER, stream, ("tool_calls", "stop"))


@STREAM
def test_tool_choice_none(
    client: openai.OpenAI, service: Endpoint, target: Target, stream: bool
) -> None:
    args = tool_request(target, service, WEATHER, tool_choice="none")
    calls, finish, content = answer(client, args, stream)
    assert not calls, f"tool_choice 'none' still called {shown(calls)}"
    assert finish != "tool_calls", "tool_choice 'none': finish_reason 'tool_calls'"
    assert content.strip(), "tool_choice 'none': the reply has no text content"


def test_parallel_calls_for_two_cities(
    client: openai.OpenAI, service: Endpoint, target: Target
) -> None:
    args = tool_request(target, service, TWO_CITIES, tool_choice="auto")
    calls, finish, _ = answer(client, args, stream=False)
    problems = call_problems(TWO_CITIES, calls, TOOLS)
    assert not problems, "two cities, two calls due: " + "; ".join(problems)
    assert finish == "tool_calls", f"finish_reason {finish!r} for {shown(calls)}"
    assert not (problems := id_problems(calls)), problems[0]


def test_tool_result_is_used(client: openai.OpenAI, service: Endpoint, target: Target) -> None:
    call = {
        "id": "call_weather_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    messages = [
        {"role": "user", "content": WEATHER.question},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(TOOL_RESULT)},
    ]
    args = tool_request(target, service, WEATHER, messages=messages)
    calls, _, content = answer(client, args, stream=False)
    value = str(TOOL_RESULT["temperature_c"])
    assert value in content, (
        f"after the tool result {TOOL_RESULT}, the answer does not use its temperature "
        f"{value}: {content!r}" + (f" (it called {shown(calls)} again)" if calls else "")
    )


def test_unrelated_question_gets_no_call(
    client: openai.OpenAI, service: Endpoint, target: Target
) -> None:
    args = tool_request(target, service, UNRELATED, tool_choice="auto")
    calls, finish, content = answer(client, args, stream=False)
    assert not calls, f"{UNRELATED.question!r} fits no tool, yet the model called {shown(calls)}"
    assert content.strip(), f"no call and no content (finish_reason {finish!r})"


@pytest.mark.parametrize("bad", ["unknown-function", "no-tools"])
def test_bad_tool_choice_is_rejected(service: Endpoint, target: Target, bad: str) -> None:
    body: dict[str, Any] = {
        "model": service.served_model_name,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": WEATHER.question}],
    }
    if bad == "unknown-function":
        body |= {
            "tools": tools_of(WEATHER, TOOLS),
            "tool_choice": {"type": "function", "function": {"name": "no_such_tool"}},
        }
    else:
        body["tool_choice"] = NAMED
    with http_client(service) as http:
        response = http.post("/v1/chat/completions", json=body)
        assert response.status_code == 400, (
            f"{bad}: HTTP {response.status_code}, expected 400; body {response.text[:300]!r}"
        )
        health = http.get("/health")
        assert health.status_code == 200, f"{bad}: /health is {health.status_code} afterwards"


@pytest.mark.per_target("category", lambda s: list(CATEGORIES))
def test_tool_call_pass_rate(
    client: openai.OpenAI, service: Endpoint, target: Target, category: str, record_measurement
) -> None:
    floors = target.deployment.tool_call_pass_rate
    assert category in floors, (
        f"catalog: {target.id} declares no tool_call_pass_rate floor for '{category}': "
        f"set deployments[].tool_call_pass_rate.{category} in models/{target.model.name}.yaml"
    )
    failures = []
    cases = load_cases(DATA, category)
    with ThreadPoolExecutor(len(cases)) as pool:  # asked at once, as concurrent clients would
        answers = list(
            pool.map(
                lambda case: answer(
                    client, tool_request(target, service, case, tool_choice="auto"), False
                ),
                cases,
            )
        )
    for case, (calls, _, _) in zip(cases, answers, strict=True):
        problems = call_problems(case, calls, TOOLS)
        if problems:
            failures.append(f"  {case.id}: " + "; ".join(problems))
    rate = 1 - len(failures) / len(cases)
    record_measurement(
        f"tool_call_pass_rate_{category}",
        round(rate, 3),
        "ratio",
        better="higher",
        floor=floors[category],
        cases=len(cases),
    )
    assert rate >= floors[category], (
        f"{category}: pass rate {rate:.2f} < floor {floors[category]:.2f} "
        f"({len(cases) - len(failures)}/{len(cases)}); failing cases:\n" + "\n".join(failures)
    )
