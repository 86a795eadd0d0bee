"""A busy host is its own verdict: CPU used by other processes during a perf window makes the
measurement invalid ("host busy", naming the consumers), never "below floor"."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from deploy_helpers.loadgen.host_load import HostLoad
from tests.report_catalog import copy_with_faulty_engine, run_suites
from tests.weights_tree import make_tree

SPIN = [sys.executable, "-c", "import time\nend = time.time() + 60\nwhile time.time() < end: pass"]


def spin() -> subprocess.Popen:
    """A process that keeps one core busy for up to a minute."""
    return subprocess.Popen(SPIN)


def detached_spin() -> int:
    """A spinning process outside this process's tree (its parent shell exits at once)."""
    done = subprocess.run(
        ["sh", "-c", f"{shlex.join(SPIN)} >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def test_other_work_is_counted_and_named() -> None:
    hog = detached_spin()
    try:
        with HostLoad([]) as load:
            time.sleep(2)
    finally:
        os.kill(hog, signal.SIGKILL)
    report = load.report
    assert report.other_cores > 0.3, report
    assert any(pid == hog and cores > 0.05 for _, pid, cores in report.consumers), report
    reason = report.busy_reason(0.5)
    assert reason and reason.startswith("host busy:") and "(pid " in reason


def test_the_deployments_own_processes_are_not_others() -> None:
    hog = spin()
    try:
        with HostLoad([hog.pid]) as load:
            time.sleep(2)
    finally:
        hog.kill()
        hog.wait()
    assert all(pid != hog.pid for _, pid, _ in load.report.consumers), load.report


def timing_catalog(where: Path) -> tuple[Path, Path]:
    """A catalog whose cpu profile serves with benchmarks.timing_server (fast, known
    latencies) through the real launcher, and a tiny weights tree for the weights stage."""
    root = copy_with_faulty_engine(where)
    cpu_yaml = root / "hardware" / "cpu.yaml"
    cpu = yaml.safe_load(cpu_yaml.read_text())
    cpu["serve"]["command"] = ["{python}", "-m", "benchmarks.timing_server"]
    cpu["serve"]["args"] = {"--port": "{port}", "--ttft-ms": 5, "--tpot-ms": 2}
    cpu["serve"]["args_by_isa"] = {}
    cpu["graph_modes"] = []
    cpu_yaml.write_text(yaml.safe_dump(cpu, sort_keys=False))
    model_yaml = root / "models" / "smollm2-135m.yaml"
    model = yaml.safe_load(model_yaml.read_text())
    model["chat"]["tool_call_parser"] = None  # the timing server takes no vLLM flags
    model["deployments"][0]["graph_mode"] = None
    model_yaml.write_text(yaml.safe_dump(model, sort_keys=False))
    weights = make_tree(where / "weights" / "smollm2-135m", "smollm2-135m")
    return root, weights.parent


def test_a_busy_host_makes_the_measurement_invalid(tmp_path: Path) -> None:
    catalog, weights = timing_catalog(tmp_path)
    args = (
        "--catalog",
        str(catalog),
        "--weights-root",
        str(weights),
        "--model",
        "smollm2-135m",
        "suites/test_performance.py",
    )
    hogs = [spin(), spin()]
    try:
        run = run_suites(tmp_path / "reports", *args)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert run.returncode == 1, run.output[-3000:]
    assert "measurement invalid: host busy: other processes used" in run.output, run.output
    assert "below floor" not in run.output
    (measured,) = [m for m in run.summary["measurements"] if m["name"] == "other_cpu_cores"]
    assert measured["value"] > 0.5 and measured["judged"] is True
