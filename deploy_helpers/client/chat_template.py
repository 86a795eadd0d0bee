"""The chat template of a weights directory, rendered offline the way Hugging Face does.

Comparing this render with the prompt a server reports (`/tokenize` then `/detokenize`)
proves that the server uses the template of the checksummed weights, not a built-in or
a stale copy. The environment mirrors transformers' chat-template settings (sandboxed,
trim_blocks, lstrip_blocks, loop controls, a `tojson` that keeps non-ASCII text).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.sandbox

from deploy_helpers.errors import SuiteError

TEMPLATE_FILE = "chat_template.jinja"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "pad_token",
    "sep_token",
    "cls_token",
    "mask_token",
)


class ChatTemplateError(SuiteError):
    """A weights directory has no usable chat template; the message names the file."""


def _tokenizer_config(weights: Path) -> dict[str, Any]:
    path = weights / TOKENIZER_CONFIG
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ChatTemplateError(f"{path}: not valid JSON ({exc})") from None


def load_chat_template(weights: Path | str) -> str:
    """The default chat template of `weights`: chat_template.jinja, else tokenizer_config's."""
    weights = Path(weights)
    if (weights / TEMPLATE_FILE).is_file():
        return (weights / TEMPLATE_FILE).read_text(encoding="utf-8")
    template = _tokenizer_config(weights).get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    if not isinstance(template, str) or not template:
        raise ChatTemplateError(
            f"{weights}: no chat template ({TEMPLATE_FILE} or {TOKENIZER_CONFIG} chat_template)"
        )
    return template


def special_tokens(weights: Path | str) -> dict[str, str]:
    """The special-token strings tokenizer_config.json declares (bos_token, eos_token, ...)."""
    config = _tokenizer_config(Path(weights))
    tokens = {}
    for name in SPECIAL_TOKENS:
        value = config.get(name)
        if isinstance(value, dict):  # older configs: {"content": "<s>", ...}
            value = value.get("content")
        if isinstance(value, str):
            tokens[name] = value
    return tokens


def _raise(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _environment() -> jinja2.Environment:
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: dt.datetime.now().strftime(fmt)
    return env


def render_chat(
    template: str,
    messages: list[dict[str, Any]],
    *,
    tokens: dict[str, str] | None = None,
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    template_kwargs: dict[str, Any] | None = None,
) -> str:
    """Render `messages` with `template` as transformers' apply_chat_template(tokenize=False)."""
    context: dict[str, Any] = {
        **(tokens or {}),
        "messages": messages,
        "add_generation_prompt": add_generation_prompt,
        **(template_kwargs or {}),
    }
    if tools is not None:
        context["tools"] = tools
    try:
        return _environment().from_string(template).render(**context)
    except jinja2.TemplateError as exc:
        raise ChatTemplateError(f"chat template does not render: {exc}") from None


def render_weights_chat(weights: Path | str, messages: list[dict[str, Any]], **kwargs) -> str:
    """Render `messages` with the chat template and special tokens of a weights directory."""
    return render_chat(
        load_chat_template(weights), messages, tokens=special_tokens(weights), **kwargs
    )


def first_difference(left: str, right: str) -> str:
    """Where two strings first differ, with a little context from each (for messages)."""
    index = next(
        (i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b),
        min(len(left), len(right)),
    )
    start = max(0, index - 30)
    return (
        f"first difference at character {index}: "
        f"{left[start : index + 30]!r} vs {right[start : index + 30]!r}"
    )
