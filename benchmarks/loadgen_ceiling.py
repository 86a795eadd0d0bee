"""How many streamed requests per second each load generator can drive, side by side.

An instant-answer double (benchmarks.timing_server) runs pinned to one CPU; our load
generator and `vllm bench serve` take turns on the other, at concurrency 256 with 256-token
replies, in both delivery styles: the whole reply in one write, and one write per event.
The double's own CPU share is printed so that a server-bound run is visible as such.

Run: .venv/bin/python -m benchmarks.loadgen_ceiling [--requests 3000]
Each tool runs `--rounds` times, interleaved, and its best round counts (the machine is
shared). Last line: `ceiling ratio (ours / vllm bench serve): X` (the worse of the two
delivery styles).
"""

from __future__ import annotations

import argparse
import os

from benchmarks.peers import Shape, run_ours, run_vllm_bench, timing_double

SERVER_CPU, CLIENT_CPU = 0, 1


def measure(tool: str, delivery: str, shape: Shape) -> tuple[float, float]:
    """(requests/s the tool reached, the double's CPU share meanwhile), fresh double each."""
    with timing_double(SERVER_CPU, delivery=delivery) as double:
        run = run_ours if tool == "ours" else run_vllm_bench
        cpu_before = double.cpu_seconds()
        result = run(double.base_url, shape, CLIENT_CPU)
        # CPU the double spent over the tool's measured window (its set-up requests included:
        # an upper bound)
        duration = result.get("duration_s") or result["duration"]
        server_share = (double.cpu_seconds() - cpu_before) / duration
    completed = result["completed"]
    if completed != shape.num_requests:
        raise SystemExit(f"{tool}: only {completed} of {shape.num_requests} requests completed")
    return result["request_throughput"], server_share


def main() -> None:
    """Measure both tools in both delivery styles and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--output-tokens", type=int, default=256)
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="interleaved rounds per tool; the best counts (shared machine)",
    )
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs two CPUs: one for the double, one for the client")
    shape = Shape(args.concurrency, 32, args.output_tokens, args.requests)
    print(
        f"concurrency {shape.concurrency}, {shape.output_tokens}-token replies, "
        f"{shape.num_requests} requests; double on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}"
    )
    ratios = []
    for delivery in ("whole", "chunked"):
        rates = {"vllm": 0.0, "ours": 0.0}
        for _ in range(args.rounds):
            for tool in rates:
                rate, share = measure(tool, delivery, shape)
                rates[tool] = max(rates[tool], rate)
                name = "vllm bench serve" if tool == "vllm" else "ours"
                print(f"  {delivery:8} {name:17} {rate:8.1f} req/s (double CPU {share:.0%})")
        ratios.append(rates["ours"] / rates["vllm"])
        print(f"  {delivery:8} ratio (ours / vllm bench serve): {ratios[-1]:.2f}")
    print(f"ceiling ratio (ours / vllm bench serve): {min(ratios):.2f}")


if __name__ == "__main__":
    main()
