"""Do our load generator and `vllm bench serve` agree on a real server? Side by side.

Brings up the embedded target (real vLLM on the CPU, SmolLM2-135M, eager) exactly as the
suite does, then runs both tools, alternating, `--rounds` times each, with the catalog's
embedded perf shape. Neither is pinned: vLLM needs both cores. Prints each run and the
ratio of the means of output throughput, median TTFT and median TPOT.

Run (real vLLM: take the machine-wide lock):
    flock /tmp/vllm.lock .venv/bin/python -m benchmarks.loadgen_agreement
Last line: `agreement (ours / vllm bench serve): output tok/s R1, TTFT p50 R2, TPOT p50 R3`
followed by whether every ratio is within 5%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.peers import Shape, run_ours, run_vllm_bench
from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.serve.stack import local_plan, serve

AGREEMENT = 0.05
METRICS = ("output tok/s", "TTFT p50", "TPOT p50")


def figures(tool: str, result: dict) -> tuple[float, float, float]:
    """(output tok/s, median TTFT ms, median TPOT ms) from either tool's result."""
    if tool == "ours":
        return (
            result["output_throughput"],
            result["ttft_ms"]["median"],
            result["tpot_ms"]["median"],
        )
    return result["output_throughput"], result["median_ttft_ms"], result["median_tpot_ms"]


def main() -> None:
    """Serve the embedded model, run both tools, print the agreement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    target = resolve_target(load_catalog(), "smollm2-135m")
    (floor,) = target.deployment.perf
    shape = Shape(
        floor.concurrency,
        floor.prompt_tokens,
        floor.output_tokens,
        floor.num_requests,
        warmups=floor.warmup_requests,
    )
    print(
        f"{target.id}: concurrency {shape.concurrency}, {shape.prompt_tokens} in / "
        f"{shape.output_tokens} out, {shape.num_requests} requests, {args.rounds} rounds"
    )
    runs: dict[str, list[tuple[float, float, float]]] = {"ours": [], "vllm": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(target, local_plan(target, target.deployment.graph_mode), Path(tmp)) as ep,
    ):
        for _ in range(args.rounds):
            for tool in ("vllm", "ours"):
                run = run_ours if tool == "ours" else run_vllm_bench
                row = figures(tool, run(ep.base_url, shape, cpu=None))
                runs[tool].append(row)
                name = "vllm bench serve" if tool == "vllm" else "ours"
                print(
                    f"  {name:17} {row[0]:7.1f} output tok/s, TTFT p50 {row[1]:7.1f} ms, "
                    f"TPOT p50 {row[2]:6.2f} ms"
                )
    ratios = [
        statistics.mean(r[i] for r in runs["ours"]) / statistics.mean(r[i] for r in runs["vllm"])
        for i in range(len(METRICS))
    ]
    within = all(abs(r - 1) <= AGREEMENT for r in ratios)
    print(
        "agreement (ours / vllm bench serve): "
        + ", ".join(f"{name} {ratio:.3f}" for name, ratio in zip(METRICS, ratios, strict=True))
        + f" — {'all within' if within else 'NOT all within'} {AGREEMENT:.0%}"
    )


if __name__ == "__main__":
    main()
