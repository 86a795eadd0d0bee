"""The Ascend twin: its hosts are the profiles' hosts to the suite, every scenario fails at
its stage with the guides' remedy, the runs say SIMULATED, and nothing is left outside it.

Scenarios that stop before the container stage run without the (large) serving image.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_helpers.sim.twin.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parent.parent
DUO = ("--model", "qwen2.5-14b")
A2 = ("--model", "deepseek-v3.1-w8a8", "--node-ip", "10.243.{n}.1", "--node-ip", "10.243.{n}.2")
# paths the twin makes inside its hosts only
TWIN_ONLY = [
    "/usr/local/Ascend",
    "/etc/hccn.conf",
    "/etc/ascend-twin.json",
    "/home/ckpt",
    "/opt/data/weights",
    "/dev/davinci0",
    "/usr/local/bin/npu-smi",
]


def twin_run(
    tmp_path: Path, profile: str, scenario: str, *pytest_args: str, subnet: int, image: bool = False
) -> subprocess.CompletedProcess:
    """`twin run` of `pytest PYTEST_ARGS` on a fresh twin, its run folder under tmp_path."""
    argv = [
        sys.executable,
        "-m",
        "deploy_helpers",
        "twin",
        "run",
        "--profile",
        profile,
        "--scenario",
        scenario,
        "--name",
        f"tw{subnet}",
        "--subnet",
        f"10.243.{subnet}",
    ]
    if not image:
        argv.append("--without-image")
    argv += [
        "--",
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--reports-dir",
        str(tmp_path / "reports"),
        *(a.format(n=subnet) for a in pytest_args),
    ]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)


def summary(tmp_path: Path) -> dict:
    """The twin run's summary.json."""
    (run,) = [p for p in (tmp_path / "reports").iterdir() if p.is_dir() and not p.is_symlink()]
    return json.loads((run / "summary.json").read_text())


def test_healthy_300i_duo_host_and_weights_pass_simulated(tmp_path: Path) -> None:
    done = twin_run(
        tmp_path,
        "atlas-300i-duo",
        "healthy",
        "suites/test_host.py",
        "suites/test_weights.py",
        *DUO,
        subnet=1,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "verdict: SIMULATED PASS" in done.stdout
    record = summary(tmp_path)
    assert record["verdict"] == "SIMULATED PASS" and record["simulated"]["stand_in"]
    host = record["fingerprint"]["targets"]["qwen2.5-14b@atlas-300i-duo"]["host_nodes"]
    (node,) = host.values()
    assert node["chip"].startswith("310P3") and node["driver"] == "24.1.rc3", node
    for path in TWIN_ONLY:  # made inside the twin's mount namespaces only
        assert not Path(path).exists(), f"{path} left on the real file system"


def test_healthy_a2_pair_host_and_weights_pass_on_both_nodes(tmp_path: Path) -> None:
    done = twin_run(
        tmp_path,
        "atlas-a2",
        "healthy",
        "suites/test_host.py",
        "suites/test_weights.py",
        *A2,
        subnet=2,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    record = summary(tmp_path)
    names = {t["name"] for t in record["tests"]}
    assert any("hccn_link" in n for n in names) and any("other_node" in n for n in names), names


FAULTS = [s for s in SCENARIOS.values() if s.stage in ("host", "weights")]


@pytest.mark.parametrize("scenario", FAULTS, ids=[s.name for s in FAULTS])
def test_scenario_fails_at_its_stage_with_the_remedy(tmp_path: Path, scenario) -> None:
    profile = scenario.profiles[0]
    args = DUO if profile == "atlas-300i-duo" else A2
    suite = "suites/test_host.py" if scenario.stage == "host" else "suites/test_weights.py"
    index = 10 + FAULTS.index(scenario)
    done = twin_run(tmp_path, profile, scenario.name, suite, *args, subnet=index)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "verdict: SIMULATED FAIL" in done.stdout
    failed = [t for t in summary(tmp_path)["tests"] if t["outcome"] == "failed"]
    assert failed and all(scenario.cause in t["name"] for t in failed), [
        (t["name"], t["message"]) for t in failed
    ]
    remedies = load_remedies(profile)
    if scenario.stage == "host":
        assert remedies[scenario.cause] in failed[0]["message"], failed[0]["message"]
    else:
        assert "weights set-dtype" in failed[0]["message"], failed[0]["message"]


def load_remedies(profile: str) -> dict[str, str]:
    """The profile's host remedies (the guides' words the failures must quote)."""
    from deploy_helpers.catalog.loader import load_catalog

    return load_catalog().hardware[profile].host.remedies


def test_image_absent_fails_the_container_stage(tmp_path: Path) -> None:
    done = twin_run(
        tmp_path,
        "atlas-300i-duo",
        "image-absent",
        "suites/test_completions.py",
        *DUO,
        "-k",
        "models_lists",
        subnet=30,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "container stage: image 'hub.oepkgs.net/oedeploy" in done.stdout
    assert "is not on this host and no registry is reachable" in done.stdout
