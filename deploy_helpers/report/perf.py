"""Performance results in the run folder: every `perf-*.json`, validated (perf.schema.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from deploy_helpers.errors import SuiteError

SCHEMA_FILE = Path(__file__).with_name("perf.schema.json")
PATTERN = "perf-*.json"
METRICS = ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")
STATS = ("mean", "median", "p90", "p99")


@cache
def schema() -> dict[str, Any]:
    """The perf result JSON Schema."""
    return json.loads(SCHEMA_FILE.read_text())


@dataclass
class PerfResults:
    """The valid results of a run folder (with samples), and one problem per bad file."""

    results: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load(run_dir: Path) -> PerfResults:
    """Read and validate every perf-*.json of `run_dir`; each result notes its file."""
    found = PerfResults()
    for path in sorted(run_dir.glob(PATTERN)):
        try:
            data = json.loads(path.read_text())
            jsonschema.validate(data, schema())
        except ValueError as exc:
            found.problems.append(f"{path.name}: not JSON ({exc})")
            continue
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "top level"
            found.problems.append(f"{path.name}: {where}: {exc.message}")
            continue
        for result in data if isinstance(data, list) else [data]:
            found.results.append({**result, "file": path.name})
    return found


def without_samples(result: dict[str, Any]) -> dict[str, Any]:
    """A result as summary.json keeps it: the figures, not the per-request samples."""
    return {k: v for k, v in result.items() if k != "samples"}


def key(result: dict[str, Any]) -> str:
    """What identifies a measurement across runs: target, shape and concurrency."""
    return f"{result.get('target') or '-'}|{result['name']}|c={result['concurrency']}"


def from_loadgen(result: dict[str, Any], name: str, target: str) -> dict[str, Any]:
    """A load generator result (deploy_helpers.loadgen) in this report's perf format."""
    metrics = {
        ours: {stat: result[theirs][stat] or 0.0 for stat in STATS}
        for ours, theirs in (
            ("ttft_ms", "ttft_ms"),
            ("tpot_ms", "tpot_ms"),
            ("itl_ms", "itl_ms"),
            ("e2e_ms", "e2el_ms"),
        )
        if result.get(theirs, {}).get("count")
    }
    return {
        "name": name,
        "target": target,
        "concurrency": result["config"]["concurrency"],
        "metrics": metrics,
        "output_tok_s": result["output_throughput"],
        "request_throughput": result["request_throughput"],
        "measurement_valid": result["self_check"]["valid"],
        "samples": result.get("samples_ms", {}),
    }


def file_stem(name: str, target: str) -> str:
    """The perf file of a shape: perf-<target>-<shape>.json, safe as a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{target}-{name}")


def write_result(run_dir: Path, result: dict[str, Any], name: str, target: str) -> Path:
    """Write a load generator result into the run folder, once, in this report's format."""
    path = run_dir / PATTERN.replace("*", file_stem(name, target))
    path.write_text(json.dumps(from_loadgen(result, name=name, target=target)))
    return path


def _results_of(path: Path) -> list[dict[str, Any]]:
    if path.is_dir():
        path = path / "summary.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"--perf-baseline {path}: no such file") from None
    except (ValueError, IsADirectoryError) as exc:
        raise SuiteError(f"--perf-baseline {path}: not JSON ({exc})") from None
    results = data.get("perf") if isinstance(data, dict) else None
    if not isinstance(results, list) or not all(
        isinstance(r, dict) and {"name", "concurrency", "output_tok_s"} <= set(r) for r in results
    ):
        raise SuiteError(
            f"--perf-baseline {path}: expected a run folder, its summary.json or "
            "a --record-baseline file (an object whose 'perf' lists results)"
        )
    return results


def load_baseline(path: Path) -> dict[str, dict[str, Any]]:
    """An earlier run's perf results by `key`: from a run folder, summary.json or a file
    written by `write_baseline`."""
    return {key(r): r for r in _results_of(path)}


def write_baseline(path: Path, run_dir: Path) -> int:
    """Write the run folder's perf results (without samples) as a baseline file; returns
    how many results it holds."""
    results = [without_samples(r) for r in load(run_dir).results]
    path.write_text(json.dumps({"baseline_of": run_dir.name, "perf": results}, indent=1))
    return len(results)
