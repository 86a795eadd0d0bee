"""Function calling scored with bfcl-eval (BFCL v4): its dataset and its AST checker.

bfcl-eval is installed without its dependencies (`pip install --no-deps`: its hard pins
would downgrade numpy under vLLM), so only its data and the AST checker are used. The
checker module imports `bfcl_eval.constants.model_config`, which imports every vendor SDK,
for one lookup (`MODEL_CONFIG_MAPPING[model].underscore_to_dot`,
ast_eval/ast_checker.py:83-90): a stub module answers it (names are sent with "." as "_",
as to OpenAI), so the checker loads with the standard library alone.

A case is asked like a real client asks (bfcl-eval's OpenAI FC handler,
model_handler/api_inference/openai_completion.py:79-130): its messages, its functions as
OpenAI `tools` (converted here as `convert_to_tool` does, model_handler/utils.py:34-204),
greedy, no system prompt; the tool calls are decoded as that handler does (arguments
JSON-loaded) and judged as eval_checker/eval_runner.py does (:263-392): irrelevance passes
when no call is decoded, live_relevance when one is, the others through `ast_checker`.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import time
import types
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import openai

from deploy_helpers.catalog.schema import Bfcl, ThinkingSwitch
from deploy_helpers.client.endpoint import thinking_switch
from deploy_helpers.client.scoring import shown_interval, wilson_interval
from deploy_helpers.client.tool_calls import Call
from deploy_helpers.client.tool_client import answer, shown
from deploy_helpers.errors import SuiteError

# single-turn Python categories of BFCL v4 (the Java/JavaScript, multi-turn, memory and
# web-search ones need their own prompting and state)
CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."  # bfcl_eval/utils.py:621
CHECKER_MODEL = "acceptance-suite"  # the model name the checker is given (the stub knows all)
EXAMPLES = 5
INSTALL = "pip install --no-deps bfcl-eval==2026.3.23 (./setup.sh does)"


class BfclError(SuiteError):
    """bfcl-eval is missing, or lacks what a category needs; the message says what."""


@dataclass(frozen=True)
class BfclCase:
    """One BFCL entry: its messages, its functions (BFCL docs) and the acceptable calls."""

    id: str
    category: str
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]] | None


@dataclass(frozen=True)
class CaseResult:
    """How one case was answered and judged."""

    id: str
    valid: bool
    called: bool
    error_type: str = ""
    error: str = ""
    answer: str = ""


@dataclass
class CategoryScore:
    """A category's pass rate on one service, or why it could not be scored."""

    category: str
    results: list[CaseResult] = field(default_factory=list)
    wall_s: float = 0.0
    error: str | None = None

    @property
    def n(self) -> int:
        """Cases asked."""
        return len(self.results)

    @property
    def passed(self) -> int:
        """Cases the checker accepted."""
        return sum(r.valid for r in self.results)

    @property
    def called(self) -> int:
        """Cases answered with at least one tool call."""
        return sum(r.called for r in self.results)

    @property
    def rate(self) -> float | None:
        """The pass rate (None when nothing was scored)."""
        return self.passed / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The Wilson 95 % interval of the pass rate."""
        return wilson_interval(self.passed, self.n) if self.n else None

    def shown(self) -> str:
        """`simple_python: pass rate 0.40 (2/5, 95% CI 0.12-0.77)` or the error."""
        if self.rate is None:
            return f"{self.category}: not scored ({self.error})"
        return (
            f"{self.category}: pass rate {self.rate:.2f} ({self.passed}/{self.n}, "
            f"{shown_interval(self.interval)})"
        )

    def error_types(self) -> str:
        """The checker's error types of the failing cases, most frequent first."""
        counts = Counter(r.error_type for r in self.results if not r.valid)
        return ", ".join(f"{kind} x{n}" for kind, n in counts.most_common())

    def failures(self, most: int = EXAMPLES) -> list[str]:
        """A few failing cases: id, error type, what the model answered."""
        return [
            f"  {r.id}: {r.error_type}: {r.error[:160]} (answered {r.answer[:160]!r})"
            for r in self.results
            if not r.valid
        ][:most]


def _data_file(name: str) -> Any:
    try:
        root = resources.files("bfcl_eval") / "data"
    except ModuleNotFoundError:
        raise BfclError(f"bfcl-eval is not installed: {INSTALL}") from None
    path = root / name
    if not path.is_file():
        raise BfclError(f"bfcl-eval's data has no {name} (bfcl_eval/data): reinstall it, {INSTALL}")
    return path


def _jsonl(path: Any) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def has_answers(category: str) -> bool:
    """Whether the category is judged by the AST checker (others: by whether a call came)."""
    return "relevance" not in category


def load_category(category: str) -> list[BfclCase]:
    """Every case of a BFCL v4 category, from bfcl-eval's installed data."""
    if category not in CATEGORIES:
        raise BfclError(
            f"BFCL category {category!r} is not a single-turn Python category "
            f"this suite asks; known: {', '.join(CATEGORIES)}"
        )
    entries = _jsonl(_data_file(f"BFCL_v4_{category}.json"))
    answers: dict[str, Any] = {}
    if has_answers(category):
        answers = {
            e["id"]: e["ground_truth"]
            for e in _jsonl(_data_file(f"possible_answer/BFCL_v4_{category}.json"))
        }
    cases = []
    for entry in entries:
        if has_answers(category) and entry["id"] not in answers:
            raise BfclError(f"bfcl-eval's {category} case {entry['id']} has no possible answer")
        cases.append(
            BfclCase(
                entry["id"],
                category,
                entry["question"][0],
                entry["function"],
                answers.get(entry["id"]),
            )
        )
    return cases


def sampled(cases: list[BfclCase], n: int) -> list[BfclCase]:
    """`n` cases evenly spaced over the category (all when it has no more), in order."""
    if n >= len(cases):
        return list(cases)
    return [cases[i * len(cases) // n] for i in range(n)]


def _openai_type(schema: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """One BFCL parameter schema in OpenAI/JSON Schema types, its nested ones too."""
    kind = schema.get("type")
    if kind == "float":  # as bfcl-eval's _cast_to_openai_type
        schema["format"] = "float"
        schema["description"] = schema.get("description", "") + " This is a float type value."
    schema["type"] = mapping.get(kind, "string") if kind is not None else "string"
    if isinstance(schema.get("properties"), dict):
        schema["properties"] = {
            k: _openai_type(v, mapping) for k, v in schema["properties"].items()
        }
    if isinstance(schema.get("items"), dict):
        schema["items"] = _openai_type(schema["items"], mapping)
    return schema


def openai_tools(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL function docs as the OpenAI `tools` field: "." in names as "_", the Python hint
    added to descriptions, BFCL types (dict, float, tuple ...) as JSON Schema types."""
    from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI

    tools = []
    for function in copy.deepcopy(functions):
        function["name"] = re.sub(r"\.", "_", function["name"])
        function["description"] = function.get("description", "") + PYTHON_HINT
        parameters = function.setdefault("parameters", {})
        parameters["type"] = "object"
        parameters["properties"] = {
            k: _openai_type(v, GORILLA_TO_OPENAPI)
            for k, v in parameters.get("properties", {}).items()
        }
        tools.append({"type": "function", "function": function})
    return tools


def _checker() -> Any:
    """bfcl-eval's `ast_checker` and `Language`, loaded behind the model_config stub."""
    name = "bfcl_eval.constants.model_config"
    if name not in sys.modules:
        stub = types.ModuleType(name)
        stub.__doc__ = "stand-in: every model sends names with '.' as '_' (acceptance suite)"
        every = types.SimpleNamespace(underscore_to_dot=True)

        class EveryModel(dict):
            def __missing__(self, key: str) -> types.SimpleNamespace:
                return every

        stub.MODEL_CONFIG_MAPPING = EveryModel()
        sys.modules[name] = stub
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    except ModuleNotFoundError as exc:
        raise BfclError(f"bfcl-eval's AST checker cannot be imported ({exc}): {INSTALL}") from None
    return ast_checker, Language


def _function_format(decoded: Any) -> bool:
    """bfcl_eval/utils.py:570-589 is_function_calling_format_output: [{name: {arg: value}}]."""
    return isinstance(decoded, list) and all(
        isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict)
        for item in decoded
    )


def judge(case: BfclCase, calls: list[Call], content: str) -> CaseResult:
    """The case's verdict on a reply (its tool calls and text), as bfcl-eval's runner gives it."""
    called = bool(calls)
    said = shown(calls) if calls else content
    try:
        decoded = [{c.name: json.loads(c.arguments)} for c in calls]
        failed = None if calls else f"no tool call; content {content[:120]!r}"
    except ValueError as exc:
        decoded, failed = None, f"arguments are not JSON ({exc})"
    if not has_answers(case.category):
        made = (
            failed is None
            and _function_format(decoded)
            and not (len(decoded) == 1 and not decoded[0])
        )
        valid = not made if "irrelevance" in case.category else made
        kind = (
            ""
            if valid
            else ("irrelevance_error:decoder_success" if made else "relevance_error:decoder_failed")
        )
        return CaseResult(case.id, valid, called, kind, "" if valid else (failed or said), said)
    if failed is not None:
        return CaseResult(case.id, False, called, "ast_decoder:decoder_failed", failed, said)
    if not _function_format(decoded):
        return CaseResult(
            case.id,
            False,
            called,
            "ast_decoder:decoder_wrong_output_format",
            "arguments are not an object of parameters",
            said,
        )
    ast_checker, language = _checker()
    verdict = ast_checker(
        case.functions, decoded, case.ground_truth, language.PYTHON, case.category, CHECKER_MODEL
    )
    return CaseResult(
        case.id,
        bool(verdict["valid"]),
        called,
        verdict.get("error_type", ""),
        "; ".join(map(str, verdict.get("error", []))),
        said,
    )


def request(
    model: str, case: BfclCase, spec: Bfcl, thinking: ThinkingSwitch | None
) -> dict[str, Any]:
    """The chat request of a case: its messages and functions as tools, greedy, thinking off."""
    return {
        "model": model,
        "temperature": 0,
        "max_tokens": spec.max_tokens,
        "messages": case.messages,
        "tools": openai_tools(case.functions),
        "tool_choice": spec.tool_choice,
        "extra_body": thinking_switch(thinking, False),
    }


def score_category(
    client: openai.OpenAI, model: str, spec: Bfcl, category: str, thinking: ThinkingSwitch | None
) -> CategoryScore:
    """Ask the sampled cases of `category` and judge each; a failure to load or ask is the
    score's error (a case the server refused is a failed case, with its error)."""
    started = time.monotonic()
    try:
        cases = sampled(load_category(category), spec.samples_per_category)
        _checker()
    except BfclError as exc:
        return CategoryScore(category, error=str(exc))

    def ask(case: BfclCase) -> CaseResult:
        try:
            calls, _, content = answer(client, request(model, case, spec, thinking), False)
        except openai.APIStatusError as exc:
            return CaseResult(
                case.id, False, False, "request_error", f"HTTP {exc.status_code}: {str(exc)[:160]}"
            )
        return judge(case, calls, content)

    with ThreadPoolExecutor(spec.concurrency) as pool:
        results = list(pool.map(ask, cases))
    return CategoryScore(category, results, round(time.monotonic() - started, 1))
