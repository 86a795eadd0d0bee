"""Run `vllm bench serve` in-process (vllm.benchmarks.serve: parser from `add_cli_args`,
then `main(args)`), optionally pinned to one CPU, and write its result dict as JSON.

Run: python -m benchmarks.vllm_bench --out F [--cpu N] -- <vllm bench serve arguments>
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path


def main() -> None:
    """Pin, run vllm bench serve, write the JSON result."""
    ours = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ours.add_argument("--out", type=Path, required=True)
    ours.add_argument("--cpu", type=int, default=None)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = ours.parse_args(argv[:split])
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    from vllm.benchmarks.serve import add_cli_args
    from vllm.benchmarks.serve import main as bench_main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    bench_args = parser.parse_args(argv[split + 1 :])
    with contextlib.redirect_stdout(sys.stderr):  # its report is noise for the caller
        result = bench_main(bench_args)
    args.out.write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
