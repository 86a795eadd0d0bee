"""Weight directories: checksum manifests and verifying a directory against one.

A manifest is JSON: `{"algorithm": "sha256" | "md5", "origin": ..., "files": {relpath:
{"size", "digest"}}}`. A checksum list as `sha256sum` / `md5sum` print it (what model sources
publish) is read as a manifest without sizes, so the guide's "compare with the source's MD5
or SHA256" (seed 000 §2.D) works on the published values directly.

Where a manifest came from is part of what it proves: one the suite wrote from the directory
itself ("self-made") only shows the files have not changed since; a published list shows
they are the source's. `origin` says which, and the report shows it. Every file of the
directory the manifest does not list is unverified: a problem unless the caller allows it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from deploy_helpers.errors import SuiteError
from deploy_helpers.weights.hashing import (
    VerifiedCache,
    check_algorithm,
    default_cache_path,
    file_digest,
    hash_files,
)

MANIFEST_NAME = "manifest.sha256.json"
# Files a loader picks up by suffix: the message of an unverified one says so.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
SELF_MADE = "self-made"
NO_ORIGIN = "not stated (a JSON manifest without origin: treat it as self-made)"
SUM_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{32}|[0-9a-fA-F]{64})\s+\*?(?P<path>.+)$")

__all__ = [
    "MANIFEST_NAME",
    "WeightsError",
    "build_manifest",
    "file_digest",
    "load_manifest",
    "unverified_files",
    "update_manifest_entry",
    "verify",
    "weight_files",
    "write_manifest",
]


class WeightsError(SuiteError):
    """A weights directory cannot be checked; the message names the file."""


def weight_files(root: Path) -> list[Path]:
    """Every file under `root`, sorted, except manifests and dot-folders (download caches)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name != MANIFEST_NAME
        and not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])
    )


def _require_dir(root: Path) -> None:
    if not root.is_dir():
        raise WeightsError(
            f"{root}: weights directory not found: download the weights there "
            "(embedded model: ./setup.sh) or pass --weights-root"
        )


def build_manifest(
    root: Path,
    algorithm: str = "sha256",
    *,
    workers: int | None = None,
    progress: bool | None = None,
) -> dict:
    """Manifest of `root`: algorithm, origin (self-made, dated) and, per relative path, size
    and digest."""
    _require_dir(root)
    files = weight_files(root)
    digests = hash_files(files, check_algorithm(algorithm), workers=workers, progress=progress)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    return {
        "algorithm": algorithm,
        "origin": f"{SELF_MADE} from the directory on {today}: it proves the files have not "
        "changed since, not that they are the source's",
        "files": {
            p.relative_to(root).as_posix(): {"size": p.stat().st_size, "digest": digests[p]}
            for p in files
        },
    }


def write_manifest(
    root: Path, algorithm: str = "sha256", dest: Path | None = None, *, progress: bool | None = None
) -> Path:
    """Write the manifest of `root` to `dest` (default: inside `root`)."""
    manifest = build_manifest(root, algorithm, progress=progress)
    dest = dest or root / MANIFEST_NAME
    dest.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return dest


def _parse_sum_file(path: Path, text: str) -> dict:
    files: dict[str, dict] = {}
    lengths = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = SUM_LINE.match(line.strip())
        if match is None:
            raise WeightsError(f"{path}:{number}: not a manifest nor a 'DIGEST  FILE' line")
        lengths.add(len(match["digest"]))
        files[match["path"].removeprefix("./")] = {"digest": match["digest"].lower()}
    if len(lengths) != 1:
        raise WeightsError(f"{path}: mixes digest lengths or lists no files")
    algorithm = "sha256" if lengths == {64} else "md5"
    return {
        "algorithm": algorithm,
        "origin": f"published ({algorithm}sum list {path.name})",
        "files": files,
    }


def load_manifest(path: Path, root: Path | None = None) -> dict:
    """Read a JSON manifest or a sha256sum/md5sum list of the weights directory `root`
    (default: the manifest's folder), with its `origin`; one-line error when unusable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        root = root or path.parent
        out = f" --out {path}" if path != root / MANIFEST_NAME else ""
        raise WeightsError(
            f"{path}: manifest not found: write one from the source's checksums, or for a "
            f"trusted copy run python -m deploy_helpers weights manifest {root}{out}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path}: cannot read the manifest ({exc})") from None
    try:
        data = json.loads(text)
    except ValueError:
        return _parse_sum_file(path, text)
    if not isinstance(data, dict) or not {"algorithm", "files"} <= data.keys():
        raise WeightsError(f"{path}: not a weights manifest (needs algorithm and files)")
    try:
        check_algorithm(data["algorithm"])
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from None
    return {**data, "origin": data.get("origin") or NO_ORIGIN}


def update_manifest_entry(manifest_path: Path, root: Path, rel: str) -> None:
    """Re-record one file of `root` in the manifest (after a deliberate, reported edit)."""
    manifest = load_manifest(manifest_path)
    if manifest["origin"].startswith("published"):
        raise WeightsError(
            f"{manifest_path}: a published checksum list is not rewritten: "
            f"{rel} changed, so it no longer matches the source's"
        )
    path = root / rel
    manifest["files"][rel] = {
        "size": path.stat().st_size,
        "digest": file_digest(path, manifest["algorithm"]),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def unverified_files(root: Path, manifest_path: Path | None = None) -> list[str]:
    """Files of `root` its manifest does not list (the manifest file itself excepted)."""
    manifest_path = manifest_path or root / MANIFEST_NAME
    listed = set(load_manifest(manifest_path)["files"])
    return [
        rel
        for path in weight_files(root)
        if (rel := path.relative_to(root).as_posix()) not in listed
        and path.resolve() != manifest_path.resolve()
    ]


def verify(
    root: Path,
    manifest_path: Path | None = None,
    *,
    rehash: bool = False,
    cache_path: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: bool | None = None,
    allow_unverified: bool = False,
) -> list[str]:
    """Compare `root` with its manifest; return one `file: cause` line per problem.

    Missing files, size changes (truncation) and digest mismatches (corruption) are
    problems, and so is every file the manifest does not list (unverified) unless
    `allow_unverified`. Digests of files unchanged since they were last hashed come from
    the verified-cache unless `rehash`.
    """
    _require_dir(root)
    manifest_path = manifest_path or root / MANIFEST_NAME
    manifest = load_manifest(manifest_path, root)
    algorithm = manifest["algorithm"]
    problems: list[str] = []
    to_hash: dict[Path, tuple[str, dict]] = {}
    for rel, want in sorted(manifest["files"].items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing (listed in the manifest)")
            continue
        size = path.stat().st_size
        if "size" in want and size != want["size"]:
            kind = "truncated" if size < want["size"] else "grown"
            problems.append(f"{rel}: {kind}: size {size} bytes, manifest says {want['size']}")
            continue
        to_hash[path] = (rel, want)
    cache = VerifiedCache(cache_path or default_cache_path()) if use_cache else None
    digests = hash_files(
        to_hash, algorithm, workers=workers, cache=cache, rehash=rehash, progress=progress
    )
    for path, (rel, want) in to_hash.items():
        if digests[path] != want["digest"].lower():
            problems.append(
                f"{rel}: {algorithm} mismatch (corrupted): "
                f"{digests[path][:16]}... != manifest {want['digest'][:16]}..."
            )
    if not allow_unverified:
        for rel in unverified_files(root, manifest_path):
            used = " (a loader would use it)" if rel.endswith(WEIGHT_SUFFIXES) else ""
            problems.append(f"{rel}: unverified: not in the manifest{used}")
    return sorted(problems)
