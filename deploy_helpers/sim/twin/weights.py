"""`python -m deploy_helpers.sim.twin.weights ROOT:ACTION ...`: the guides' weights steps on
the twin, in one process (run by host_init inside the twin host's mount namespace).

ACTION `float16`: the seed 000 §2.1 edit of config.json (the 300I Duo has no bfloat16),
re-recorded in the manifest as `weights set-dtype --update-manifest` does. ACTION `w8a8`:
an msModelSlim-style `quant_model_description.json` beside the stand-in's weights (the
description seed 003 §1 checks), the manifest re-made to list it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from deploy_helpers.weights import config, manifest

W8A8_DESCRIPTION = {"model_quant_type": "W8A8"}


def apply(root: Path, action: str) -> str:
    """Apply one action to the weights directory `root`; returns what was done."""
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
