"""Hashing weight files: parallel digests, a progress bar and a cache of verified digests.

`hashlib` releases the GIL while it digests a buffer, so threads hash several files at
once without the start-up and pickling cost of processes (benchmarks/hash_throughput.py
measures both). The cache maps a file's identity (path, size, mtime_ns, inode) to its
digest, so an unchanged tree re-verifies with one `stat` per file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

ALGORITHMS = ("sha256", "md5")
CHUNK = 4 << 20
CACHE_ENV = "WEIGHTS_VERIFY_CACHE"


def check_algorithm(algorithm: str) -> str:
    """Return `algorithm` if the manifests support it, else raise ValueError."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported hash algorithm {algorithm!r} (use one of {ALGORITHMS})")
    return algorithm


def file_digest(
    path: Path, algorithm: str = "sha256", on_bytes: Callable[[int], None] | None = None
) -> str:
    """Hex digest of one file, read in 4 MiB chunks into one reused buffer."""
    digest = hashlib.new(algorithm)
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            if on_bytes:
                on_bytes(count)
    return digest.hexdigest()


def _digest_in_worker(path: str, algorithm: str) -> str:
    return file_digest(Path(path), algorithm)


def default_workers() -> int:
    """One worker per CPU, at least one and at most eight (disks stop scaling before that)."""
    return max(1, min(8, os.cpu_count() or 1))


class VerifiedCache:
    """Digests already computed, keyed by path, size, mtime_ns and inode; a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        self.dirty = False
        if path is not None:
            try:
                data = json.loads(path.read_text())
                self.entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self.entries = {}

    @staticmethod
    def key(path: Path, algorithm: str) -> str:
        """The identity of `path` as it is now on disk, plus the algorithm."""
        st = path.stat()
        return f"{algorithm}:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"

    def get(self, path: Path, algorithm: str) -> str | None:
        """The cached digest of `path` if the file is unchanged since it was hashed."""
        return self.entries.get(self.key(path, algorithm))

    def put(self, path: Path, algorithm: str, digest: str) -> None:
        """Remember `digest` for the current identity of `path`, dropping older identities."""
        key = self.key(path, algorithm)
        prefix = key.rsplit(":", 3)[0] + ":"
        for stale in [k for k in self.entries if k.startswith(prefix) and k != key]:
            del self.entries[stale]
        self.entries[key] = digest
        self.dirty = True

    def save(self) -> None:
        """Write the cache atomically (parallel runs may race: the last writer wins)."""
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.entries, sort_keys=True))
        os.replace(tmp, self.path)
        self.dirty = False


def default_cache_path() -> Path:
    """$WEIGHTS_VERIFY_CACHE, else the user's cache folder (weights dirs may be read-only)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "llm-serving-acceptance" / "verified-weights.json"


def _progress(total: int, show: bool | None) -> AbstractContextManager:
    """A rich byte-progress bar on stderr when it is a terminal (or when asked)."""
    if show is None:
        show = sys.stderr.isatty()
    if not show or total == 0:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True, force_terminal=show),
    )


def hash_files(
    paths: Iterable[Path],
    algorithm: str = "sha256",
    *,
    workers: int | None = None,
    use_processes: bool = False,
    cache: VerifiedCache | None = None,
    rehash: bool = False,
    progress: bool | None = None,
) -> dict[Path, str]:
    """Digest every path, in parallel, taking unchanged files from `cache` unless `rehash`."""
    check_algorithm(algorithm)
    paths = list(paths)
    digests: dict[Path, str] = {}
    todo = []
    for path in paths:
        cached = None if rehash or cache is None else cache.get(path, algorithm)
        if cached is None:
            todo.append(path)
        else:
            digests[path] = cached
    total = sum(p.stat().st_size for p in todo)
    pool: Executor = (ProcessPoolExecutor if use_processes else ThreadPoolExecutor)(
        max_workers=min(workers or default_workers(), max(1, len(todo)))
    )
    with pool, _progress(total, progress) as bar:
        task = bar.add_task("hashing", total=total) if bar else None
        advance = (lambda n: bar.advance(task, n)) if bar and not use_processes else None
        futures = {
            (
                pool.submit(_digest_in_worker, str(p), algorithm)
                if use_processes
                else pool.submit(file_digest, p, algorithm, advance)
            ): p
            for p in todo
        }
        for future in as_completed(futures):
            path = futures[future]
            digests[path] = future.result()
            if bar and use_processes:
                bar.advance(task, path.stat().st_size)
            if cache is not None:
                cache.put(path, algorithm, digests[path])
    if cache is not None:
        cache.save()
    return {p: digests[p] for p in paths}
