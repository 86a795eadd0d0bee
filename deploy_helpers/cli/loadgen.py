"""`loadgen`: run the load generator against an endpoint and write its JSON result."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from deploy_helpers.client.endpoint import API_KEY_ENV
from deploy_helpers.errors import SuiteError
from deploy_helpers.loadgen import LoadConfig, Tolerance, run_load


def _slo(text: str) -> tuple[str, float]:
    key, _, value = text.partition(":")
    if key not in ("ttft", "tpot", "e2el") or not value:
        raise argparse.ArgumentTypeError(f"SLO {text!r}: use ttft:MS, tpot:MS or e2el:MS")
    return key, float(value)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `loadgen` command."""
    parser = subparsers.add_parser("loadgen", help="benchmark a streaming completion endpoint")
    parser.add_argument("--endpoint", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--output-tokens", type=int, default=256)
    parser.add_argument("--num-requests", type=int, default=384)
    parser.add_argument("--concurrency", type=int, default=None, help="closed-loop width")
    parser.add_argument("--request-rate", type=float, default=None, help="Poisson arrivals/s")
    parser.add_argument("--warmup-requests", type=int, default=2)
    parser.add_argument("--slo", type=_slo, action="append", default=[], help="e.g. ttft:500")
    parser.add_argument("--ttft-tolerance-ms", type=float, default=Tolerance.ttft_ms)
    parser.add_argument("--tpot-tolerance-ms", type=float, default=Tolerance.tpot_ms)
    parser.add_argument(
        "--relative-tolerance",
        type=float,
        default=Tolerance.relative,
        help="tolerated client lag as a share of the median TTFT / TPOT",
    )
    parser.add_argument("--cpu", type=int, default=None, help="pin the client to this CPU")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run one benchmark, print its headline figures, write its JSON."""
    if args.cpu is not None:
        try:
            os.sched_setaffinity(0, {args.cpu})
        except OSError as exc:
            raise SuiteError(f"cannot pin to CPU {args.cpu}: {exc}") from None
    api_key = os.environ.get(API_KEY_ENV)
    config = LoadConfig(
        base_url=args.endpoint.rstrip("/"),
        model=args.model,
        prompt_tokens=args.prompt_tokens,
        output_tokens=args.output_tokens,
        num_requests=args.num_requests,
        concurrency=args.concurrency if args.concurrency or args.request_rate else 8,
        request_rate=args.request_rate,
        warmup_requests=args.warmup_requests,
        slos_ms=dict(args.slo),
        progress=not args.no_progress,
        tolerance=Tolerance(
            args.ttft_tolerance_ms, args.tpot_tolerance_ms, args.relative_tolerance
        ),
        headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
    )
    result = run_load(config)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print(headline(result))
    return 0


def headline(result: dict) -> str:
    """A few lines a person reads first."""
    check = result["self_check"]
    lines = [
        f"completed {result['completed']} failed {result['failed']} in "
        f"{result['duration_s']:.2f} s: {result['request_throughput']:.1f} req/s, "
        f"{result['output_throughput']:.1f} output tok/s",
        *(
            f"{label}: median {result[key]['median']:.2f} ms, p99 {result[key]['p99']:.2f} ms"
            for label, key in (
                ("TTFT", "ttft_ms"),
                ("TPOT", "tpot_ms"),
                ("ITL", "itl_ms"),
                ("E2E", "e2el_ms"),
            )
            if result[key]["count"]
        ),
        f"usage mismatches: {result['usage_check']['mismatches']}",
        "self-check: " + ("valid" if check["valid"] else "INVALID: " + "; ".join(check["reasons"])),
    ]
    return "\n".join(lines)
