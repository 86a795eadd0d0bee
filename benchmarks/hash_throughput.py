"""Hash throughput of the weights verifier against `openssl dgst -sha256` and `sha256sum`.

    .venv/bin/python benchmarks/hash_throughput.py              # ~1.5 GB of fresh files
    .venv/bin/python benchmarks/hash_throughput.py --dir DIR    # hash existing files

Every method hashes the same files in the same run, page cache warm, in interleaved
rounds; the best round of each counts (this machine is shared and noisy). The digests of
every method must agree. Also timed: a cached re-verify of the same tree. The last line
is the ratio of our default configuration to `openssl dgst -sha256`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy_helpers.weights import manifest as weights
from deploy_helpers.weights.hashing import default_workers, hash_files

WRITE_CHUNK = 64 << 20


def make_files(root: Path, total_bytes: int, count: int) -> list[Path]:
    """`count` files of random bytes totalling `total_bytes`."""
    size = total_bytes // count
    files = []
    for i in range(count):
        path = root / f"model-{i + 1:05d}-of-{count:05d}.safetensors"
        with path.open("wb") as handle:
            left = size
            while left:
                n = min(WRITE_CHUNK, left)
                handle.write(os.urandom(n))
                left -= n
        files.append(path)
    return files


def run_tool(argv: list[str], files: list[Path]) -> dict[Path, str]:
    """Digests printed by `sha256sum` (`DIGEST  FILE`) or `openssl dgst` (`...(FILE)= DIGEST`)."""
    out = subprocess.run(
        [*argv, *map(str, files)], capture_output=True, text=True, check=True
    ).stdout
    digests = {}
    for line in out.splitlines():
        if line.startswith(("SHA2-256(", "SHA256(")):
            head, digest = line.rsplit("= ", 1)
            name = head[head.index("(") + 1 : -1]
        else:
            digest, name = line.split(maxsplit=1)
        digests[Path(name.lstrip("*"))] = digest
    return digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="hash the files in DIR instead of fresh ones")
    parser.add_argument("--size-gb", type=float, default=1.5, help="total size of fresh files")
    parser.add_argument("--files", type=int, default=6, help="number of fresh files")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    for tool in ("openssl", "sha256sum"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found (apt-get install {tool})", file=sys.stderr)
            return 2

    tmp = None if args.dir else Path(tempfile.mkdtemp(prefix="hash-bench-"))
    try:
        if args.dir:
            files = sorted(p for p in args.dir.rglob("*") if p.is_file())
        else:
            print(f"writing {args.files} files, {args.size_gb} GB in {tmp} ...", flush=True)
            files = make_files(tmp, int(args.size_gb * 1e9), args.files)
        total = sum(p.stat().st_size for p in files)
        print(
            f"{len(files)} files, {total / 1e9:.2f} GB, {os.cpu_count()} CPUs, "
            f"{args.workers} workers",
            flush=True,
        )
        reference = hash_files(files, workers=args.workers, progress=False)  # warms the cache

        methods: dict[str, Callable[[], dict[Path, str]]] = {
            f"ours, {args.workers} threads": lambda: hash_files(
                files, workers=args.workers, progress=False
            ),
            f"ours, {args.workers} processes": lambda: hash_files(
                files, workers=args.workers, use_processes=True, progress=False
            ),
            "ours, 1 thread": lambda: hash_files(files, workers=1, progress=False),
            "openssl dgst -sha256": lambda: run_tool(["openssl", "dgst", "-sha256"], files),
            "sha256sum": lambda: run_tool(["sha256sum"], files),
        }
        best = dict.fromkeys(methods, float("inf"))
        for _ in range(args.rounds):
            for name, method in methods.items():
                start = time.perf_counter()
                digests = method()
                best[name] = min(best[name], time.perf_counter() - start)
                if digests != reference:
                    print(f"error: {name} digests differ from ours", file=sys.stderr)
                    return 1
        for name, seconds in best.items():
            print(f"{name:28s} {total / seconds / 1e6:8.0f} MB/s  ({seconds:.2f} s)")

        root = files[0].parent
        manifest = Path(tempfile.mkdtemp(prefix="hash-bench-m-")) / "manifest.json"
        cache = manifest.with_name("cache.json")
        try:
            manifest.write_text(
                json.dumps(
                    {
                        "algorithm": "sha256",
                        "files": {
                            p.relative_to(root).as_posix(): {
                                "size": p.stat().st_size,
                                "digest": reference[p],
                            }
                            for p in files
                        },
                    }
                )
            )
            weights.verify(root, manifest, cache_path=cache, progress=False)
            start = time.perf_counter()
            problems = weights.verify(root, manifest, cache_path=cache, progress=False)
            cached = time.perf_counter() - start
        finally:
            shutil.rmtree(manifest.parent)
        print(
            f"cached re-verify of the same tree: {cached:.3f} s "
            f"({'verified' if not problems else problems[0]})"
        )
        ours = best[f"ours, {args.workers} threads"]
        print(
            f"hash throughput ratio (ours / openssl dgst -sha256): "
            f"{best['openssl dgst -sha256'] / ours:.2f}"
        )
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
