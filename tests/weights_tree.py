"""Tiny but real weights trees for the weights tests: safetensors shards written by the
`safetensors` library, an index, config.json (with the catalog model's published shapes),
a tokenizer config with a chat template, and a manifest; plus the faults the weights checks
must catch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import Target, resolve_target
from deploy_helpers.weights.manifest import write_manifest

SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]

# ChatML-style with a tools block and Qwen3's enable_thinking switch (written for these tests).
QWEN_TEMPLATE = (
    "{% if tools %}{{ '<|im_start|>system\\n<tools>' }}{% for tool in tools %}"
    "{{ tool | tojson }}{% endfor %}{{ '</tools><|im_end|>\\n' }}{% endif %}"
    "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% if enable_thinking is defined and not enable_thinking %}"
    "{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}{% endif %}"
)
# DeepSeek-V3.1 style: full-width bars, thinking off unless `thinking` is set (seed 003 §5.2).
DEEPSEEK_TOOLS = (
    "{% if tools is defined and tools is not none %}{{ '## Tools\\n' }}{% for tool in tools %}"
    "{{ '### ' + tool.function.name + '\\n' + (tool.function.parameters | tojson) + '\\n' }}"
    "{% endfor %}{% endif %}"
)
FULLWIDTH_BAR = "\uff5c"  # DeepSeek's special tokens are <\uff5cUser\uff5c>, not <|User|>


def fullwidth(text: str) -> str:
    """`<|X|>` -> DeepSeek's `<\uff5cX\uff5c>`."""
    return text.replace("<|", "<" + FULLWIDTH_BAR).replace("|>", FULLWIDTH_BAR + ">")


# The body with ASCII bars is a fault: those are not the model's special tokens.
DEEPSEEK_BODY_ASCII = (
    "{% for m in messages %}{{ '<|User|>' + m.content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|Assistant|>' }}"
    "{% if thinking is defined and thinking %}{{ '<think>' }}{% else %}{{ '</think>' }}{% endif %}"
    "{% endif %}"
)
DEEPSEEK_BODY = fullwidth(DEEPSEEK_BODY_ASCII)
DEEPSEEK_TEMPLATE = "{{ bos_token }}" + DEEPSEEK_TOOLS + DEEPSEEK_BODY
PLAIN_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
W8A8_DESCRIPTION = {
    "model_quant_type": "W8A8_DYNAMIC",
    "model.embed_tokens.weight": "FLOAT",
    "model.layers.0.self_attn.q_proj.weight": "W8A8",
    "model.layers.0.mlp.down_proj.weight": "W8A8_DYNAMIC",
}

# model -> how its healthy tree looks
PROFILES: dict[str, dict] = {
    "qwen3-8b": {"dtype": "float16", "template": QWEN_TEMPLATE},
    "deepseek-v3.1-w8a8": {
        "dtype": "bfloat16",
        "template": DEEPSEEK_TEMPLATE,
        "description": W8A8_DESCRIPTION,
    },
    "smollm2-135m": {"dtype": "bfloat16", "dtype_key": "dtype", "template": PLAIN_TEMPLATE},
}


def target_of(model: str) -> Target:
    """The catalog target of `model` (its first deployment)."""
    return resolve_target(load_catalog(), model)


def make_tree(root: Path, model: str = "qwen3-8b", **overrides: object) -> Path:
    """Write a healthy weights tree for `model` at `root` (overrides change the profile)."""
    spec = {
        "dtype_key": "torch_dtype",
        "description": None,
        "quantization_config": None,
        **PROFILES[model],
        **overrides,
    }
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    weight_map = {}
    for index, shard in enumerate(SHARDS):
        tensors = {
            f"model.layers.{index}.{name}.weight": rng.standard_normal((64, 128)).astype(np.float16)
            for name in ("self_attn.q_proj", "mlp.down_proj")
        }
        save_file(tensors, str(root / shard))
        weight_map.update(dict.fromkeys(tensors, shard))
    (root / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 4 * 64 * 128 * 2}, "weight_map": weight_map})
    )
    published = target_of(model).model.config
    config = {
        "model_type": "qwen3",
        spec["dtype_key"]: spec["dtype"],
        **(published.published() if published else {}),
    }
    if spec["quantization_config"]:
        config["quantization_config"] = spec["quantization_config"]
    (root / "config.json").write_text(json.dumps(config, indent=2))
    (root / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "bos_token": fullwidth("<|begin\u2581of\u2581sentence|>"),
                "eos_token": "<|im_end|>",
                "chat_template": spec["template"],
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    (root / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {}}))
    (root / "generation_config.json").write_text(json.dumps({"temperature": 0.7}))
    if spec["description"]:
        (root / "quant_model_description.json").write_text(json.dumps(spec["description"]))
    write_manifest(root, progress=False)
    return root


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Corrupt one byte in place (same size), by default in the middle of the file."""
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def flip_byte_keep_stat(path: Path) -> None:
    """Corrupt one byte and restore the mtime: same path, size, mtime_ns and inode."""
    before = path.stat()
    with path.open("r+b") as handle:
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(before.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def truncate(path: Path, keep: int = 1000) -> None:
    """Cut the file short, as an interrupted download leaves it."""
    with path.open("r+b") as handle:
        handle.truncate(keep)


def set_config(root: Path, **values: object) -> None:
    """Change config.json keys (None removes one)."""
    path = root / "config.json"
    config = json.loads(path.read_text())
    for key, value in values.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config, indent=2))
