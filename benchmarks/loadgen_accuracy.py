"""How close each load generator's TTFT and TPOT come to the truth, side by side.

A double with known timing (benchmarks.timing_server: first token 50 ms after the request
is read, then one every 10 ms) runs pinned to one CPU and records when it really read each
request and wrote its first and last tokens; each tool runs on the other CPU at
concurrency 1, 64 and 256. The error is the tool's median minus the double's median.
Our run uses a strict self-check tolerance (2 ms on TTFT): if its own lag could exceed that,
it says so (marked INVALID) instead of claiming the accuracy.

Run: .venv/bin/python -m benchmarks.loadgen_accuracy
Last line: `ttft error at c=256 (ours / vllm bench serve): A ms / B ms`.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.peers import Shape, ms, run_ours, run_vllm_bench, timing_double

SERVER_CPU, CLIENT_CPU = 0, 1
TTFT_MS, TPOT_MS = 50.0, 10.0
OUTPUT_TOKENS = 64
REQUESTS = {1: 20, 64: 256, 256: 768}


def truth_medians(records: list[list[float]]) -> tuple[float, float]:
    """Median true TTFT and TPOT in ms from the double's records."""
    ttft = [(first - read) * 1000 for read, first, _, _ in records]
    tpot = [(last - first) * 1000 / (n - 1) for _, first, last, n in records if n > 1]
    return statistics.median(ttft), statistics.median(tpot)


def measure(tool: str, concurrency: int) -> dict[str, object]:
    """One tool at one concurrency: its medians, the truth's, and our self-check."""
    shape = Shape(
        concurrency, 32, OUTPUT_TOKENS, REQUESTS[concurrency], warmups=min(concurrency, 8)
    )
    with timing_double(SERVER_CPU, TTFT_MS, TPOT_MS) as double:
        if tool == "ours":
            result = run_ours(double.base_url, shape, CLIENT_CPU, ttft_tolerance_ms=2.0)
            ttft, tpot = result["ttft_ms"]["median"], result["tpot_ms"]["median"]
            check = result["self_check"]
            verdict = "valid" if check["valid"] else "INVALID: " + "; ".join(check["reasons"])
        else:
            result = run_vllm_bench(double.base_url, shape, CLIENT_CPU)
            ttft, tpot = result["median_ttft_ms"], result["median_tpot_ms"]
            verdict = "no self-check"
        true_ttft, true_tpot = truth_medians(double.truth())
    return {
        "ttft_error": ttft - true_ttft,
        "tpot_error": tpot - true_tpot,
        "ttft": ttft,
        "true_ttft": true_ttft,
        "verdict": verdict,
    }


def main() -> None:
    """Both tools at each concurrency; errors against the double's truth."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    print(
        f"double: TTFT {TTFT_MS:g} ms, TPOT {TPOT_MS:g} ms, {OUTPUT_TOKENS}-token replies; "
        f"double on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}"
    )
    last: dict[str, dict[str, object]] = {}
    for concurrency in REQUESTS:
        for tool in ("vllm", "ours"):
            row = last[tool] = measure(tool, concurrency)
            name = "vllm bench serve" if tool == "vllm" else "ours"
            print(
                f"  c={concurrency:<4} {name:17} TTFT {ms(row['ttft'])} ms "
                f"(true {ms(row['true_ttft'])}): error {ms(row['ttft_error'])} ms, "
                f"TPOT error {ms(row['tpot_error'])} ms [{row['verdict']}]"
            )
    ours = last["ours"]
    marker = "" if ours["verdict"] == "valid" else " (ours marked INVALID by its self-check)"
    print(
        f"ttft error at c=256 (ours / vllm bench serve): {ms(ours['ttft_error'])} ms / "
        f"{ms(last['vllm']['ttft_error'])} ms{marker}"
    )


if __name__ == "__main__":
    main()
