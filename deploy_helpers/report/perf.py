"""Performance results in the run folder: every `perf-*.json`, validated (perf.schema.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

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
        for ours, theirs in (("ttft_ms", "ttft_ms"), ("tpot_ms", "tpot_ms"),
                             ("itl_ms", "itl_ms"), ("e2e_ms", "e2el_ms"))
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
