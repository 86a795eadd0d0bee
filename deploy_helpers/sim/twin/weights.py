"""`python -m deploy_helpers.sim.twin.weights ROOT:ACTION ...`: the guides' weights steps on
the twin, in one process (run by host_init inside the twin host's mount namespace).

ACTION `float16`: the seed 000 §2.1 edit of config.json (the 300I Duo has no bfloat16),
re-recorded in the manifest as `weights set-dtype --update-manifest` does. ACTION `w8a8`:
an msModelSlim-style `quant_model_description.json` beside the stand-in's weights (the
description seed 003 §1 checks), the manifest re-made to list it. ACTION `describe=MODEL`:
`ascend_twin.json` beside the stand-in's weights, for the engine shims
(deploy_helpers/sim/engines/): the model type of the catalog model it stands in for, and the
stand-in's own tool-call and reasoning parsers (a DeepSeek parser cannot load with the
stand-in's tokenizer), recorded in the manifest.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.weights import config, manifest

W8A8_DESCRIPTION = {"model_quant_type": "W8A8"}
STAND_IN = ("smollm2-135m", "cpu")  # the model the twin serves for every catalog model
# the stand-in's deployment of the same shape, by the profile's node count: its perf floors
# are measured for that shape (two engines on this machine's cores for a pair)
STAND_IN_BY_NODES = {1: STAND_IN, 2: (STAND_IN[0], "cpu-two-node-container")}
STAND_IN_FILE = "ascend_twin.json"  # read by deploy_helpers/sim/engines/ascend_twin.py
# config.json model_type of each architecture the catalog names (transformers' configs)
MODEL_TYPES = {
    "DeepseekV3ForCausalLM": "deepseek_v3",
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "Qwen3MoeForCausalLM": "qwen3_moe",
    "Qwen2_5_VLForConditionalGeneration": "qwen2_5_vl",
}


def describe(root: Path, model_name: str) -> str:
    """Write the stand-in description of `model_name` into `root`, listed in its manifest."""
    catalog = load_catalog()
    model, stand_in = catalog.models[model_name], catalog.models[STAND_IN[0]]
    architectures = model.config.architectures if model.config else None
    described = {
        "stands_in_for": model_name,
        "model_type": MODEL_TYPES.get((architectures or [""])[0]),
        "tool_call_parser": stand_in.chat.tool_call_parser,
        "reasoning_parser": stand_in.chat.reasoning_parser,
    }
    (root / STAND_IN_FILE).write_text(json.dumps(described, indent=1) + "\n")
    manifest.update_manifest_entry(root / manifest.MANIFEST_NAME, root, STAND_IN_FILE)
    return f"{root}: {STAND_IN_FILE} ({model_name})"


def apply(root: Path, action: str) -> str:
    """Apply one action to the weights directory `root`; returns what was done."""
    if action.startswith("describe="):
        return describe(root, action.removeprefix("describe="))
    if action == "float16":
        changed = config.set_dtype(root, "float16")
        manifest.update_manifest_entry(root / manifest.MANIFEST_NAME, root, config.CONFIG)
        return f"{root}: {', '.join(changed) or 'already float16'}"
    if action == "w8a8":
        (root / "quant_model_description.json").write_text(json.dumps(W8A8_DESCRIPTION))
        manifest.write_manifest(root)
        return f"{root}: quant_model_description.json (W8A8), manifest re-made"
    raise SystemExit(f"unknown twin weights action {action!r}")


def main(argv: list[str]) -> int:
    """Apply every ROOT:ACTION given."""
    for item in argv:
        root, _, action = item.rpartition(":")
        print(apply(Path(root), action), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
