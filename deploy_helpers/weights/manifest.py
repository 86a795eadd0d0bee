"""Weight directories: checksum manifests and verifying a directory against one.

A manifest is JSON: `{"algorithm": "sha256" | "md5", "files": {relpath: {"size", "digest"}}}`.
A checksum list as `sha256sum` / `md5sum` print it (what model sources publish) is read as
a manifest without sizes, so the guide's "compare with the source's MD5 or SHA256"
(seed 000 §2.D) works on the published values directly.
"""

from __future__ import annotations

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
# Files a loader may pick up by suffix: an unlisted one is as bad as a corrupted one.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
SUM_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{32}|[0-9a-fA-F]{64})\s+\*?(?P<path>.+)$")

__all__ = ["MANIFEST_NAME", "WeightsError", "build_manifest", "file_digest", "load_manifest",
           "update_manifest_entry", "verify", "weight_files", "write_manifest"]


class WeightsError(SuiteError):
    """A weights directory cannot be checked; the message names the file."""


def weight_files(root: Path) -> list[Path]:
    """Every file under `root`, sorted, except manifests and dot-folders (download caches)."""
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME
        and not any(part.startswith(".") for part in p.relative_to(root).parts[:-1])
    )


def _require_dir(root: Path) -> None:
    if not root.is_dir():
        raise WeightsError(
            f"{root}: weights directory not found: download the weights there "
            "(embedded model: ./setup.sh) or pass --weights-root"
        )


def build_manifest(root: Path, algorithm: str = "sha256", *, workers: int | None = None,
                   progress: bool | None = None) -> dict:
    """Manifest of `root`: algorithm and, per relative path, size and digest."""
    _require_dir(root)
    files = weight_files(root)
    digests = hash_files(files, check_algorithm(algorithm), workers=workers, progress=progress)
    return {
        "algorithm": algorithm,
        "files": {
            p.relative_to(root).as_posix(): {"size": p.stat().st_size, "digest": digests[p]}
            for p in files
        },
    }


def write_manifest(root: Path, algorithm: str = "sha256", dest: Path | None = None, *,
                   progress: bool | None = None) -> Path:
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
    return {"algorithm": "sha256" if lengths == {64} else "md5", "files": files}


def load_manifest(path: Path, root: Path | None = None) -> dict:
    """Read a JSON manifest or a sha256sum/md5sum list of the weights directory `root`
    (default: the manifest's folder); one-line error when unusable."""
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
    return data


def update_manifest_entry(manifest_path: Path, root: Path, rel: str) -> None:
    """Re-record one file of `root` in the manifest (after a deliberate, reported edit)."""
    manifest = load_manifest(manifest_path)
    path = root / rel
    manifest["files"][rel] = {"size": path.stat().st_size,
                              "digest": file_digest(path, manifest["algorithm"])}
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def verify(
    root: Path,
    manifest_path: Path | None = None,
    *,
    rehash: bool = False,
    cache_path: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: bool | None = None,
) -> list[str]:
    """Compare `root` with its manifest; return one `file: cause` line per problem.

    Missing files, size changes (truncation) and digest mismatches (corruption) are
    problems, and so is a weight-like file the manifest does not list. Digests of files
    unchanged since they were last hashed come from the verified-cache unless `rehash`.
    """
    _require_dir(root)
    manifest = load_manifest(manifest_path or root / MANIFEST_NAME, root)
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
    digests = hash_files(to_hash, algorithm, workers=workers, cache=cache, rehash=rehash,
                         progress=progress)
    for path, (rel, want) in to_hash.items():
        if digests[path] != want["digest"].lower():
            problems.append(f"{rel}: {algorithm} mismatch (corrupted): "
                            f"{digests[path][:16]}... != manifest {want['digest'][:16]}...")
    listed = set(manifest["files"])
    for path in weight_files(root):
        rel = path.relative_to(root).as_posix()
        if rel not in listed and path.suffix in WEIGHT_SUFFIXES:
            problems.append(f"{rel}: weight file not in the manifest (a loader would use it)")
    return sorted(problems)
