"""What the benchmarks share: the timing double as a process, and the two load generators
(ours and `vllm bench serve`), each run in its own process pinned to one CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy_helpers.serve.process import free_port

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / ".weights" / "smollm2-135m"  # vllm bench builds prompts with it
MODEL = "smollm2-135m"
RUN_TIMEOUT_S = 240


@dataclass
class Double:
    """A running timing double."""

    base_url: str
    pid: int

    def truth(self) -> list[list[float]]:
        """Records since the last call: [read_at, first_at, last_at, content events]."""
        return httpx.get(f"{self.base_url}/_truth", timeout=30).json()

    def cpu_seconds(self) -> float:
        """CPU time the double has used (user + system)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def timing_double(
    cpu: int | None, ttft_ms: float = 0, tpot_ms: float = 0, delivery: str = "chunked"
) -> Iterator[Double]:
    """Start benchmarks.timing_server (pinned to `cpu`), stop it on exit."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "benchmarks.timing_server",
        "--port",
        str(port),
        "--ttft-ms",
        str(ttft_ms),
        "--tpot-ms",
        str(tpot_ms),
        "--delivery",
        delivery,
    ]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if proc.poll() is not None:
                raise RuntimeError(f"timing double exited: {proc.stderr.read().decode()}")
            try:
                httpx.get(f"{base_url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Double(base_url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_json(argv: list[str], out: Path) -> dict[str, Any]:
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(
            f"{' '.join(argv[:4])} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return json.loads(out.read_text())


@dataclass(frozen=True)
class Shape:
    """A load shape both tools are given."""

    concurrency: int
    prompt_tokens: int
    output_tokens: int
    num_requests: int
    warmups: int = 8


def run_ours(
    base_url: str, shape: Shape, cpu: int | None, ttft_tolerance_ms: float | None = None
) -> dict[str, Any]:
    """Our load generator (python -m deploy_helpers loadgen) in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ours.json"
        argv = [
            sys.executable,
            "-m",
            "deploy_helpers",
            "loadgen",
            "--endpoint",
            base_url,
            "--model",
            MODEL,
            "--prompt-tokens",
            str(shape.prompt_tokens),
            "--output-tokens",
            str(shape.output_tokens),
            "--num-requests",
            str(shape.num_requests),
            "--concurrency",
            str(shape.concurrency),
            "--warmup-requests",
            str(shape.warmups),
            "--no-progress",
            "--out",
            str(out),
        ]
        if cpu is not None:
            argv += ["--cpu", str(cpu)]
        if ttft_tolerance_ms is not None:
            argv += ["--ttft-tolerance-ms", str(ttft_tolerance_ms), "--relative-tolerance", "0"]
        return _run_json(argv, out)


def run_vllm_bench(base_url: str, shape: Shape, cpu: int | None) -> dict[str, Any]:
    """`vllm bench serve` (vllm.benchmarks.serve, in-process in its own pinned process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "vllm.json"
        argv = [sys.executable, "-m", "benchmarks.vllm_bench", "--out", str(out)]
        if cpu is not None:
            argv += ["--cpu", str(cpu)]
        argv += [
            "--",
            "--backend",
            "openai",
            "--base-url",
            base_url,
            "--endpoint",
            "/v1/completions",
            "--model",
            MODEL,
            "--tokenizer",
            str(TOKENIZER),
            "--dataset-name",
            "random",
            "--random-input-len",
            str(shape.prompt_tokens),
            "--random-output-len",
            str(shape.output_tokens),
            "--num-prompts",
            str(shape.num_requests),
            "--max-concurrency",
            str(shape.concurrency),
            "--num-warmups",
            str(shape.warmups),
            "--ignore-eos",
            "--temperature",
            "0",
            "--percentile-metrics",
            "ttft,tpot,itl,e2el",
            "--metric-percentiles",
            "50,90,99",
            "--disable-tqdm",
        ]
        return _run_json(argv, out)


def ms(value: float | None) -> str:
    """A millisecond figure for printing."""
    return "n/a" if value is None else f"{value:.2f}"
