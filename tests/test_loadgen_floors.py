"""Performance floors fail with measured vs floor: by hand, and through the real perf suite
against a fast and a too-slow known-timing double (benchmarks.timing_server)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from benchmarks.peers import timing_double
from deploy_helpers.catalog.loader import DEFAULT_CATALOG, load_catalog
from deploy_helpers.catalog.schema import Floors, PerfFloor
from deploy_helpers.errors import SuiteError
from deploy_helpers.host.cpu import parse_cpuinfo
from deploy_helpers.loadgen.floors import (
    baseline_breaches,
    floor_breaches,
    floors_for,
    invalid_reason,
)
from deploy_helpers.report.perf import load_baseline

FLOOR = PerfFloor(
    name="s",
    concurrency=8,
    prompt_tokens=64,
    output_tokens=32,
    num_requests=64,
    min_output_tok_s=100,
    max_ttft_p99_ms=500,
    max_tpot_p99_ms=50,
)
PERF_ARGS = ("--model", "smollm2-135m", "-m", "perf", "suites/test_performance.py")


def result(tok_s: float, ttft_p99: float, tpot_p99: float) -> dict:
    return {
        "output_throughput": tok_s,
        "ttft_ms": {"p99": ttft_p99},
        "tpot_ms": {"p99": tpot_p99},
        "errors": {"count": 0, "examples": []},
        "usage_check": {"mismatches": 0, "examples": []},
        "self_check": {"valid": True, "reasons": []},
    }


def test_floor_breaches_name_measured_and_floor() -> None:
    assert floor_breaches(result(150, 400, 40), FLOOR) == []
    assert floor_breaches(result(80, 700, 60), FLOOR) == [
        "output throughput 80.0 tok/s < floor 100 tok/s",
        "TTFT p99 700.0 ms > floor 500 ms",
        "TPOT p99 60.0 ms > floor 50 ms",
    ]


def test_baseline_ratio() -> None:
    assert baseline_breaches(result(97.5, 0, 0), {"output_tok_s": 100}) == []
    breach = baseline_breaches(result(90, 0, 0), {"output_tok_s": 100})
    assert breach and "0.97 x baseline 100.0 tok/s" in breach[0]


def test_invalid_results_are_not_judged() -> None:
    bad = result(150, 400, 40)
    bad["self_check"] = {"valid": False, "reasons": ["client lag could move TTFT by 9 ms"]}
    bad["usage_check"] = {"mismatches": 2, "examples": ["request 3: completion_tokens 31 != 32"]}
    reason = invalid_reason(bad)
    assert "client lag" in reason and "completion_tokens 31 != 32" in reason


def test_bad_baseline_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such file"):
        load_baseline(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("[1]")
    with pytest.raises(
        SuiteError,
        match=r"expected a run folder, its summary\.json or a "
        r"--record-baseline file",
    ):
        load_baseline(tmp_path / "x.json")


def embedded_floor() -> Floors:
    """The embedded model's catalog floors for this machine's ISA class (the ones the suite
    applies to an endpoint on this machine)."""
    (shape,) = load_catalog().models["smollm2-135m"].deployments[0].perf
    isa = parse_cpuinfo(Path("/proc/cpuinfo").read_text())["isa_class"]
    floor, _ = floors_for(shape, isa)
    assert floor is not None and None not in (
        floor.min_output_tok_s,
        floor.max_ttft_p99_ms,
        floor.max_tpot_p99_ms,
    )
    return floor


def test_cpu_floors_follow_the_isa_class() -> None:
    (shape,) = load_catalog().models["smollm2-135m"].deployments[0].perf
    avx2, why = floors_for(shape, "avx2")
    assert avx2.min_output_tok_s < floors_for(shape, "avx512")[0].min_output_tok_s, why
    assert floors_for(shape, "amx")[1] == "floors of ISA class avx512 (the node is amx)"
    none, why = floors_for(shape, "baseline")
    assert none is None and "no floor for CPU ISA class baseline" in why


@pytest.fixture
def short_catalog(tmp_path: Path) -> Path:
    """The shipped catalog with the embedded shape cut to one round of requests and no
    warm-up (same floors), so a slow server fails in seconds rather than minutes."""
    root = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG, root)
    path = root / "models" / "smollm2-135m.yaml"
    data = yaml.safe_load(path.read_text())
    for shape in data["deployments"][0]["perf"]:
        shape.update(num_requests=shape["concurrency"], warmup_requests=0)
    path.write_text(yaml.safe_dump(data))
    return root


def test_fast_server_passes_and_a_higher_baseline_fails(
    run_suites, short_catalog: Path, tmp_path: Path
) -> None:
    floor = embedded_floor()
    args = ("--catalog", str(short_catalog), *PERF_ARGS)
    with timing_double(
        None, ttft_ms=floor.max_ttft_p99_ms / 10, tpot_ms=floor.max_tpot_p99_ms / 10
    ) as fast:
        run = run_suites("--endpoint", fast.base_url, *args)
        assert run.returncode == 0, run.output[-3000:]
        assert "1 passed" in run.output, run.output[-3000:]
        baseline = tmp_path / "baseline.json"
        run = run_suites("--endpoint", fast.base_url, *args, "--record-baseline", str(baseline))
        assert run.returncode == 0 and baseline.is_file(), run.output[-3000:]
        recorded = json.loads(baseline.read_text())
        (entry,) = recorded["perf"]
        assert entry["name"] == "embedded-small" and entry["target"] == "smollm2-135m@cpu"
        entry["output_tok_s"] = 1e9
        baseline.write_text(json.dumps(recorded))
        run = run_suites("--endpoint", fast.base_url, *args, "--perf-baseline", str(baseline))
    assert run.returncode == 1, run.output[-3000:]
    assert "x baseline 1000000000.0 tok/s" in run.output, run.output[-3000:]


def test_slow_server_fails_with_measured_vs_floor(run_suites, short_catalog: Path) -> None:
    floor = embedded_floor()
    with timing_double(
        None, ttft_ms=floor.max_ttft_p99_ms * 1.5, tpot_ms=floor.max_tpot_p99_ms * 1.2
    ) as slow:
        run = run_suites("--endpoint", slow.base_url, "--catalog", str(short_catalog), *PERF_ARGS)
    assert run.returncode == 1, run.output[-3000:]
    for cause in ("performance below floor", "< floor", "TTFT p99", "TPOT p99"):
        assert cause in run.output, f"missing {cause!r}:\n{run.output[-3000:]}"


def test_shape_without_floors_is_no_floor_and_the_run_incomplete(
    run_suites, short_catalog: Path
) -> None:
    path = short_catalog / "models" / "smollm2-135m.yaml"
    data = yaml.safe_load(path.read_text())
    for shape in data["deployments"][0]["perf"]:
        shape.pop("by_isa")
    path.write_text(yaml.safe_dump(data))
    with timing_double(None, ttft_ms=5, tpot_ms=1) as fast:
        run = run_suites("--endpoint", fast.base_url, "--catalog", str(short_catalog), *PERF_ARGS)
    assert run.returncode == 6, run.output[-3000:]  # INCOMPLETE: not a failure, not a pass
    assert "verdict: INCOMPLETE" in run.output, run.output[-3000:]
    assert "NO FLOOR" in run.output and "--record-baseline FILE" in run.output, run.output
    assert "output tok/s, TTFT p99" in run.output, "what it measured is shown"
