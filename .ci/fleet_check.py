"""CI's check of its fleet run (.ci/run), run inside the testbed after the fleet:

the fleet verdict is FAIL naming exactly the faulty unit d (unreachable) while a, b and c
pass; the drift table shows b's planted weights manifest hash against a's; report.html
opens in headless Chromium without console errors and shows the verdict; on every
namespace host nothing but sshd is left running. Prints the timing line last.

    python .ci/fleet_check.py FLEET_DIR DRIFT_MANIFEST NAMESPACE...
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from deploy_helpers.report.browser import check_page

EXPECTED = {
    "a": ("PASS", None),
    "b": ("PASS", None),
    "c": ("PASS", None),
    "d": ("FAIL", "unreachable"),
}


def leftovers(namespace: str) -> list[str]:
    """Command lines of the processes in `namespace` other than sshd's."""
    pids = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    ).stdout.split()
    found = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if not cmdline.startswith(("sshd", "/usr/sbin/sshd")):
            found.append(f"{namespace} pid {pid}: {cmdline.strip()}")
    return found


def main() -> int:
    fleet, drift_manifest, namespaces = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    summary = json.loads((fleet / "summary.json").read_text())
    problems = []
    if summary["verdict"] != "FAIL":
        problems.append(f"fleet verdict {summary['verdict']}, expected FAIL")
    got = {u["name"]: (u["verdict"], u["failure"]) for u in summary["units"]}
    if got != EXPECTED:
        problems.append(f"units {got}, expected {EXPECTED}")
    named = [r.split(":")[0] for r in summary["verdict_reasons"]]
    if named != ["d"]:
        problems.append(f"the verdict names {named}, expected exactly ['d']")
    planted = hashlib.sha256(drift_manifest.read_bytes()).hexdigest()
    rows = [
        r
        for r in summary["drift"]
        if r["profile"] == "cpu" and r["field"] == "weights manifest sha256"
    ]
    if not rows or rows[0]["values"].get("b") != planted or rows[0]["values"].get("a") == planted:
        problems.append(
            f"the drift table does not show b's planted manifest {planted}: {summary['drift']}"
        )
    page = check_page(fleet / "report.html", fleet / "report.png")
    if page.console_errors or page.verdict != "FAIL":
        problems.append(f"report.html: verdict {page.verdict!r}, errors {page.console_errors}")
    for namespace in namespaces:
        problems += [f"left running: {line}" for line in leftovers(namespace)]
    for problem in problems:
        print(f"fleet check: {problem}")
    t = summary["timing"]
    stages = "; ".join(
        f"{name}: {b['wall_s']} s wall for {b['unit_sum_s']} s of unit time (x{b['speedup']})"
        for name, b in t["stages"].items()
    )
    print(
        f"fleet timing: {t['wall_s']} s wall for {t['unit_sum_s']} s of unit time "
        f"(x{t['speedup']}); {stages}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
