"""CI: a twin run's report says SIMULATED, every stage and suite ran, nothing failed, and the
twin left nothing on the real file system.

usage: twin_check.py RUN_FOLDER
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SUITES = (
    "test_host",
    "test_weights",
    "test_graph_modes",
    "test_completions",
    "test_chat",
    "test_chat_templates",
    "test_function_calls",
    "test_api_robustness",
    "test_access",
    "test_seed_policy",
    "test_performance",
    "test_accuracy",
    "test_bfcl",
)
TWIN_ONLY = (
    "/usr/local/Ascend",
    "/etc/hccn.conf",
    "/etc/ascend-twin.json",
    "/home/ckpt",
    "/opt/data/weights",
    "/dev/davinci0",
    "/usr/local/bin/npu-smi",
)


def problems(run: Path) -> list[str]:
    """What is wrong with the twin run in `run` (empty: all is well)."""
    summary = json.loads((run / "summary.json").read_text())
    found = []
    if summary["verdict"] not in ("SIMULATED PASS", "SIMULATED PASS WITH WAIVERS"):
        found.append(f"verdict {summary['verdict']}: {summary['verdict_reasons'][:5]}")
    if not summary.get("simulated"):
        found.append("summary.json does not say what was simulated")
    ran = {t["suite"].rsplit("/", 1)[-1].removesuffix(".py") for t in summary["tests"]}
    found += [f"suite {s} did not run" for s in SUITES if s not in ran]
    bad = [t for t in summary["tests"] if t["outcome"] in ("failed", "error", "not_run")]
    found += [f"{t['outcome']}: {t['nodeid']}: {t['message']}" for t in bad]
    names = {p.get("name") for p in ET.parse(run / "junit.xml").iter("property")}
    if "simulated.simulated" not in names:
        found.append("junit.xml does not say SIMULATED")
    found += [f"{path} left on the real file system" for path in TWIN_ONLY if Path(path).exists()]
    return found


if __name__ == "__main__":
    found = problems(Path(sys.argv[1]).resolve())
    for line in found:
        print(f"twin check: {line}")
    print(f"twin check: {'FAIL' if found else 'ok'} ({sys.argv[1]})")
    sys.exit(1 if found else 0)
