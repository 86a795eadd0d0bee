"""Function-call cases (BFCL-style categories) and the checks of a model's tool calls.

A case is a question, the functions offered, and the calls due, each argument with the
values that count as right (BFCL's "possible answers"). `call_problems` returns what is
wrong with the calls a server made, so a suite can print the offending arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from deploy_helpers.errors import SuiteError

CATEGORIES = ("simple", "multiple", "parallel", "irrelevance")
TOOLS_FILE = "tools.yaml"


class ExpectedCall(BaseModel):
    """A call that is due: the function and, per argument, the acceptable values."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    arguments: dict[str, list[Any]] = {}


class ToolCase(BaseModel):
    """One question, the functions it is offered, the calls due (none: irrelevance)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    question: str
    tools: list[str]
    expect: list[ExpectedCall]


@dataclass(frozen=True)
class Call:
    """A tool call as a server returned it."""

    id: str | None
    name: str
    arguments: str


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"{path}: cannot read tool-call data ({exc})") from None


def load_tools(folder: Path) -> dict[str, dict[str, Any]]:
    """The functions of `folder`/tools.yaml as OpenAI `tools` entries, by name."""
    data = _read(folder / TOOLS_FILE)
    return {
        name: {"type": "function", "function": {"name": name, **spec}}
        for name, spec in data.items()
    }


def load_cases(folder: Path, category: str) -> list[ToolCase]:
    """The cases of one category (`folder`/<category>.yaml), validated."""
    path = folder / f"{category}.yaml"
    try:
        cases = [ToolCase.model_validate(c) for c in _read(path)]
    except (ValidationError, TypeError) as exc:
        raise SuiteError(f"{path}: malformed tool-call case ({exc})") from None
    known = load_tools(folder)
    for case in cases:
        unknown = set(case.tools) - known.keys()
        if unknown:
            raise SuiteError(f"{path}: case {case.id} offers unknown tools {sorted(unknown)}")
    return cases


def tools_of(case: ToolCase, tools: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The `tools` request field of a case."""
    return [tools[name] for name in case.tools]


def schema_of(tools: Iterable[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The JSON Schema of function `name` among `tools`."""
    for tool in tools:
        if tool["function"]["name"] == name:
            return tool["function"].get("parameters", {})
    return None


def parse_arguments(call: Call, schema: dict[str, Any] | None) -> tuple[Any, list[str]]:
    """The call's arguments as an object, and what is wrong with them (empty: valid)."""
    try:
        value = json.loads(call.arguments)
    except ValueError:
        return None, [f"{call.name}: arguments are not JSON: {call.arguments!r}"]
    if not isinstance(value, dict):
        return value, [
            f"{call.name}: arguments are a JSON {type(value).__name__}, not an "
            f"object: {call.arguments!r}"
        ]
    if schema is None:
        return value, [f"{call.name}: not one of the offered functions"]
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=str)
    return value, [
        f"{call.name}: arguments {call.arguments!r} violate the schema: {e.message}" for e in errors
    ]


def _acceptable(value: Any, allowed: list[Any]) -> bool:
    for option in allowed:
        if isinstance(option, str) and isinstance(value, str):
            if option.strip().lower() == value.strip().lower():
                return True
        elif isinstance(option, (int, float)) and isinstance(value, (int, float)):
            if float(option) == float(value):
                return True
        elif option == value:
            return True
    return False


def _matches(expected: ExpectedCall, call: Call, value: Any) -> bool:
    if call.name != expected.name or not isinstance(value, dict):
        return False
    return all(_acceptable(value.get(arg), allowed) for arg, allowed in expected.arguments.items())


def call_problems(case: ToolCase, calls: list[Call], tools: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with `calls` as an answer to `case` (empty: the case passes)."""
    offered = tools_of(case, tools)
    if not case.expect:
        return [f"called {c.name}({c.arguments}) though no offered function fits" for c in calls]
    problems: list[str] = []
    parsed = []
    for call in calls:
        value, bad = parse_arguments(call, schema_of(offered, call.name))
        problems += bad
        parsed.append((call, value))
    if len(calls) != len(case.expect):
        problems.append(
            f"{len(calls)} call(s), expected {len(case.expect)}: "
            + ", ".join(f"{c.name}({c.arguments})" for c in calls)
        )
    unmatched = list(parsed)
    for expected in case.expect:
        hit = next((p for p in unmatched if _matches(expected, *p)), None)
        if hit is None:
            problems.append(
                f"no call {expected.name} with {expected.arguments}; got "
                + (", ".join(f"{c.name}({c.arguments})" for c in calls) or "none")
            )
        else:
            unmatched.remove(hit)
    return problems
