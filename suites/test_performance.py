"""Performance floors: each catalog benchmark shape, measured with the suite's load generator.

Every shape of `deployments[].perf` runs once per target: exact-length prompts, ignore_eos
with min_tokens = max_tokens, closed-loop concurrency, warm-up outside the window. A result
the load generator's self-check marks invalid (its own lag could have moved TTFT or TPOT),
or with failed requests or usage that disagrees with the request, fails as "measurement
invalid" instead of being judged. Otherwise output tok/s, TTFT p99 and TPOT p99 are held
to the catalog's floors and, with --perf-baseline, output tok/s to the earlier result; a
shape with no floor and no baseline is NO FLOOR (the run is incomplete, not failed), with
what it measured and how to record a baseline.
Metrics follow vLLM's definitions (see deploy_helpers.loadgen.metrics).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_helpers.catalog.schema import PerfFloor
from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import Endpoint, request_bound
from deploy_helpers.loadgen import LoadConfig, run_load
from deploy_helpers.loadgen.floors import (
    baseline_breaches,
    floor_breaches,
    floors_for,
    invalid_reason,
)
from deploy_helpers.loadgen.host_load import HostLoad, LoadReport
from deploy_helpers.report import perf
from deploy_helpers.serve.stack import Stack

pytestmark = pytest.mark.perf


def perf_shapes(stack: Stack) -> list[PerfFloor]:
    """The benchmark shapes of the served model's deployment (on a twin, the stand-in's)."""
    return list(stack.expected.deployment.perf)


def measure(service: Endpoint, shape: PerfFloor, running) -> tuple[dict, LoadReport]:
    """Run the shape against the service, and what other work used the CPUs meanwhile."""
    config = LoadConfig(
        base_url=service.base_url,
        model=service.served_model_name,
        prompt_tokens=shape.prompt_tokens,
        output_tokens=shape.output_tokens,
        num_requests=shape.num_requests,
        concurrency=shape.concurrency,
        warmup_requests=shape.warmup_requests,
        headers=service.headers,
        progress=False,
        request_timeout_s=request_bound(
            service.bounds, "/v1/completions", {"max_tokens": shape.output_tokens}
        ).seconds,
    )
    with HostLoad(running.local_pids(), running.local_containers()) as load:
        result = run_load(config)
    return result, load.report


def _shown(value: float | None) -> str:
    """A figure to one decimal, or 'none' when no request measured it."""
    return "none" if value is None else f"{value:.1f}"


@pytest.mark.per_target("shape", perf_shapes)
def test_performance_floor(
    stack: Stack,
    target: Target,
    service: Endpoint,
    shape: PerfFloor,
    run_dir: Path,
    perf_baseline,
    perf_baseline_ratio: float,
    serving_isa: str | None,
    no_floor,
    record_measurement,
    running_service,
) -> None:
    result, load = measure(service, shape, running_service)
    path = perf.write_result(run_dir, result, shape.name, stack.id)
    key = perf.key({"target": stack.id, "name": shape.name, "concurrency": shape.concurrency})
    summary = (
        f"{key}: {_shown(result['output_throughput'])} output tok/s, TTFT p99 "
        f"{_shown(result['ttft_ms']['p99'])} ms, TPOT p99 {_shown(result['tpot_ms']['p99'])} ms "
        f"(result: {path.name})"
    )
    judged = not stack.options.endpoint and not stack.launcher.remote
    record_measurement(
        "other_cpu_cores",
        round(load.other_cores, 2),
        "cores",
        better="lower",
        window_s=round(load.seconds, 1),
        judged=judged
        or "no: processes of nodes started over ssh or of an "
        "--endpoint deployment cannot be told apart here",
    )
    bound = stack.target.hardware.host.busy_cpu_cores
    if judged and (busy := load.busy_reason(bound)) is not None:
        pytest.fail(f"measurement invalid: {busy} [{summary}]", pytrace=False)
    if (reason := invalid_reason(result)) is not None:
        pytest.fail(f"measurement invalid: {reason} [{summary}]", pytrace=False)
    floors, held_to = floors_for(shape, serving_isa)
    record_measurement(
        f"{shape.name}_output_tok_s",
        round(result["output_throughput"], 2),
        "tok/s",
        better="higher",
        floors=held_to,
    )
    if perf_baseline is None and floors is None:
        no_floor(
            f"{key}: {held_to}: measured {summary}; record a baseline from a signed-off "
            f"run with --record-baseline FILE and pass --perf-baseline FILE, or set the "
            f"floors in the catalog (deployments[].perf of models/{target.model.name}.yaml)"
        )
    breaches = floor_breaches(result, floors) if floors is not None else []
    if perf_baseline is not None:
        if key not in perf_baseline:
            pytest.fail(
                f"--perf-baseline has no result for {key} "
                f"(it has: {', '.join(sorted(perf_baseline)) or 'none'})",
                pytrace=False,
            )
        breaches += baseline_breaches(result, perf_baseline[key], perf_baseline_ratio)
    if breaches:
        pytest.fail(
            f"performance below floor ({held_to}): {'; '.join(breaches)} [{summary}]", pytrace=False
        )
