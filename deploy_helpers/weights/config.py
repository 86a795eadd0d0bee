"""What a weights directory declares: dtype, quantization, identity, and its chat template.

- dtype: `config.json` `torch_dtype` (or `dtype`, which transformers 5 writes) must be one
  the hardware computes in; the 300I Duo has no bfloat16 (seed 000 §2.1). `set_dtype`
  is the explicit fix, never applied behind the user's back.
- quantization: msModelSlim checkpoints for Ascend carry `quant_model_description.json`
  (`model_quant_type` W8A8 / W8A8_DYNAMIC, and per tensor W8A8, W8A8_DYNAMIC or FLOAT);
  newer ones also say `"quantization_config": {"quant_method": "ascend", ...}` in
  config.json; MindIE's convention is a top-level `"quantize": "w8a8"`. Upstream DeepSeek
  checkpoints say `"quant_method": "fp8"` there, which the Ascend NPU does not compute
  (seed 003 §1).
- identity: config.json's architecture and shapes (architectures, hidden size, layers,
  vocab, head counts, context length, eos token) must be the catalog model's published ones:
  a 7B directory under the 14B path, or the base model where the Instruct one is due.
- chat template: `chat_template.jinja` (preferred by transformers when present) or
  `tokenizer_config.json` `chat_template`, rendered in a sandbox to see whether it writes
  the offered tools (seed 003 §5.3) and the catalog's thinking switch (seed 003 §5.2).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

CONFIG = "config.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
TEMPLATE_FILE = "chat_template.jinja"
DTYPE_KEYS = ("torch_dtype", "dtype")
DTYPE_ALIASES = {
    "half": "float16",
    "fp16": "float16",
    "bf16": "bfloat16",
    "float": "float32",
    "fp32": "float32",
}
PROBE_TOOL = "acceptance_probe_tool"
W8A8_TYPES = {"W8A8", "W8A8_DYNAMIC"}


# --------------------------------------------------------------------------- config.json


def read_json(path: Path) -> dict:
    """A JSON object from `path`; ValueError naming the file when missing or malformed."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path.name}: missing") from None
    except ValueError as exc:
        raise ValueError(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: not a JSON object")
    return data


def normalize_dtype(value: str) -> str:
    """`torch.float16`, `fp16`, `half` ... -> `float16`."""
    name = str(value).removeprefix("torch.").lower()
    return DTYPE_ALIASES.get(name, name)


def declared_dtypes(config: dict) -> dict[str, str]:
    """The dtype keys config.json sets (top level, else `text_config`), normalized."""
    for scope in (config, config.get("text_config") or {}):
        found = {k: normalize_dtype(scope[k]) for k in DTYPE_KEYS if scope.get(k)}
        if found:
            return found
    return {}


def check_dtype(root: Path, allowed: list[str]) -> list[str]:
    """Problems with config.json's dtype given the dtypes the hardware computes in."""
    try:
        config = read_json(root / CONFIG)
    except ValueError as exc:
        return [str(exc)]
    found = declared_dtypes(config)
    if not found:
        return [f"{CONFIG}: sets neither torch_dtype nor dtype; allowed: {', '.join(allowed)}"]
    if len(set(found.values())) > 1:
        return [f"{CONFIG}: torch_dtype and dtype disagree ({found})"]
    dtype = next(iter(found.values()))
    if dtype not in allowed:
        keys = "/".join(found)
        return [f"{CONFIG}: {keys} is {dtype}, the hardware computes in {', '.join(allowed)}"]
    return []


def set_dtype(root: Path, dtype: str) -> list[str]:
    """Set config.json's dtype keys (those present, else `torch_dtype`); describe each change."""
    path = root / CONFIG
    config = read_json(path)
    dtype = normalize_dtype(dtype)
    scope = config
    if not any(k in config for k in DTYPE_KEYS) and isinstance(config.get("text_config"), dict):
        scope = config["text_config"]
    keys = [k for k in DTYPE_KEYS if k in scope] or ["torch_dtype"]
    changes = [f"{CONFIG}: {k} {scope.get(k)} -> {dtype}" for k in keys if scope.get(k) != dtype]
    if changes:
        for key in keys:
            scope[key] = dtype
        path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    return changes


# --------------------------------------------------------------------------- identity

_ABSENT = object()


def check_identity(root: Path, published: dict[str, object], model_id: str) -> list[str]:
    """Each published config.json value the directory's config.json differs on, named.

    A key is read at the top level, else under `text_config` (where newer transformers put
    a multimodal model's language settings).
    """
    try:
        config = read_json(root / CONFIG)
    except ValueError as exc:
        return [str(exc)]
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    problems = []
    for key, want in published.items():
        have = config.get(key, text.get(key, _ABSENT))
        if have != want:
            shown = "absent" if have is _ABSENT else json.dumps(have)
            problems.append(f"{CONFIG}: {key} is {shown}, {model_id} publishes {json.dumps(want)}")
    return problems


# --------------------------------------------------------------------------- quantization


@dataclass(frozen=True)
class Quantization:
    """What a checkpoint declares: scheme families found and where each was read."""

    schemes: dict[str, str]  # family ("w8a8", "fp8", ...) -> "file: evidence"

    @property
    def families(self) -> set[str]:
        """The scheme families, e.g. {"w8a8"}; empty when the checkpoint is not quantized."""
        return set(self.schemes)


def scheme_family(name: str) -> str:
    """W8A8 / W8A8_DYNAMIC -> w8a8; anything naming fp8 -> fp8; otherwise lower-cased."""
    upper = str(name).upper()
    if "FP8" in upper or "E4M3" in upper or "E5M2" in upper:
        return "fp8"
    return "w8a8" if upper in W8A8_TYPES else str(name).lower()


def _from_quantization_config(qc: dict) -> tuple[str, str] | None:
    method = str(qc.get("quant_method", "")).lower()
    if method == "ascend" and qc.get("model_quant_type"):
        return scheme_family(qc["model_quant_type"]), f"model_quant_type {qc['model_quant_type']}"
    if "fp8" in (scheme_family(method), scheme_family(qc.get("fmt", ""))):
        return "fp8", f"quant_method {method}"
    return (method, f"quant_method {method}") if method else None


def detect_quantization(root: Path) -> Quantization:
    """The quantization a checkpoint declares in config.json and msModelSlim descriptions."""
    schemes: dict[str, str] = {}
    try:
        config = read_json(root / CONFIG)
    except ValueError:
        config = {}
    qc = config.get("quantization_config")
    if isinstance(qc, dict) and (found := _from_quantization_config(qc)):
        schemes[found[0]] = f"{CONFIG}: quantization_config {found[1]}"
    if isinstance(config.get("quantize"), str):  # MindIE's convention: "quantize": "w8a8"
        schemes.setdefault(
            scheme_family(config["quantize"]), f"{CONFIG}: quantize {config['quantize']}"
        )
    for path in sorted(root.glob("quant_model_description*.json")):
        try:
            description = read_json(path)
        except ValueError as exc:
            schemes["unreadable"] = str(exc)
            continue
        if description.get("model_quant_type"):
            family = scheme_family(description["model_quant_type"])
            schemes.setdefault(
                family, f"{path.name}: model_quant_type {description['model_quant_type']}"
            )
        for tensor, kind in description.items():
            if isinstance(kind, str) and kind.isupper() and kind != "FLOAT" and ("." in tensor):
                schemes.setdefault(scheme_family(kind), f"{path.name}: {tensor} is {kind}")
    return Quantization(schemes)


def check_quantization(root: Path, expected: str | None, hardware_dtypes: list[str]) -> list[str]:
    """Problems when the checkpoint's quantization is not the catalog's, or not computable."""
    found = detect_quantization(root)
    want = expected.lower() if expected else None
    computes_fp8 = any("float8" in d for d in hardware_dtypes)
    problems = []
    for family, evidence in sorted(found.schemes.items()):
        if family == want:
            continue
        if family == "fp8" and not computes_fp8:
            problems.append(
                f"{evidence}: fp8 quantization, which this hardware does not "
                f"compute (it computes {', '.join(hardware_dtypes)})"
            )
        else:
            problems.append(
                f"{evidence}: {family} quantization, the catalog says {want or 'unquantized'}"
            )
    if want and want not in found.families:
        problems.append(
            f"{root.name}: declares no {want} quantization (expected "
            "quant_model_description.json with model_quant_type W8A8 or "
            "W8A8_DYNAMIC, or config.json quantization_config)"
        )
    return problems


# --------------------------------------------------------------------------- chat template


def load_chat_template(root: Path, name: str = "default") -> tuple[str, str]:
    """(file it came from, template text) of the template transformers would use."""
    jinja = root / TEMPLATE_FILE
    if jinja.is_file():
        return TEMPLATE_FILE, jinja.read_text()
    config = read_json(root / TOKENIZER_CONFIG)
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get(name) or named.get("default")
    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"{TEMPLATE_FILE} absent and {TOKENIZER_CONFIG} has no chat_template")
    return TOKENIZER_CONFIG, template


def _special_tokens(root: Path) -> dict[str, str]:
    try:
        config = read_json(root / TOKENIZER_CONFIG)
    except ValueError:
        return {}
    tokens = {}
    for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
        value = config.get(key)
        value = value.get("content") if isinstance(value, dict) else value
        if isinstance(value, str):
            tokens[key] = value
    return tokens


def render_chat(root: Path, template: str, **variables: object) -> str:
    """Render `template` in a sandbox with what transformers provides to chat templates."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def tojson(value: object, indent: int | None = None, **_: object) -> str:
        return json.dumps(value, ensure_ascii=False, indent=indent)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: dt.datetime.now().strftime(fmt)
    return env.from_string(template).render(**_special_tokens(root), **variables)


PROBE = {
    "type": "function",
    "function": {
        "name": PROBE_TOOL,
        "description": "Probe offered by the acceptance suite.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


def check_tools_in_template(root: Path) -> list[str]:
    """The template must write an offered tool into the prompt (seed 003 §5.3)."""
    try:
        source, template = load_chat_template(root, "tool_use")
        prompt = render_chat(
            root, template, messages=MESSAGES, tools=[PROBE], add_generation_prompt=True
        )
    except Exception as exc:  # a template error of any kind is the finding
        return [
            f"{TEMPLATE_FILE}/{TOKENIZER_CONFIG}: chat template does not render with "
            f"tools ({type(exc).__name__}: {exc})"
        ]
    if PROBE_TOOL not in prompt:
        return [
            f"{source}: chat_template has no tool-call section (an offered tool does not "
            "appear in the rendered prompt)"
        ]
    return []


def check_thinking_switch(root: Path, kwarg: str, suffix_on: str, suffix_off: str) -> list[str]:
    """With `kwarg` on and off, the rendered prompt must end as the catalog says."""
    problems = []
    for value, suffix in ((True, suffix_on), (False, suffix_off)):
        try:
            source, template = load_chat_template(root)
            prompt = render_chat(
                root, template, messages=MESSAGES, add_generation_prompt=True, **{kwarg: value}
            )
        except Exception as exc:  # a template error of any kind is the finding
            return [
                f"{TEMPLATE_FILE}/{TOKENIZER_CONFIG}: chat template does not render "
                f"({type(exc).__name__}: {exc})"
            ]
        if not prompt.endswith(suffix):
            problems.append(
                f"{source}: with {kwarg}={value} the prompt ends "
                f"{prompt[-40:]!r}, expected {suffix!r}"
            )
    return problems


def served_context(root: Path) -> int | None:
    """The checkpoint's own context length (config.json max_position_embeddings), if any."""
    try:
        value = read_json(root / CONFIG).get("max_position_embeddings")
    except ValueError:
        return None
    return value if isinstance(value, int) else None
