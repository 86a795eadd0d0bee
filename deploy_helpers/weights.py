"""Weight directories: checksum manifests and their verification."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from deploy_helpers.errors import SuiteError

MANIFEST_NAME = "manifest.sha256.json"
CHUNK = 1 << 20


class WeightsError(SuiteError):
    """A weights directory does not match its manifest; the message names the file."""


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of one file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def weight_files(root: Path) -> list[Path]:
    """Every file under `root` except the manifest itself, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)


def build_manifest(root: Path, algorithm: str = "sha256") -> dict:
    """Manifest of `root`: algorithm and, per relative path, size and digest."""
    files = {
        str(p.relative_to(root)): {"size": p.stat().st_size, "digest": file_digest(p, algorithm)}
        for p in weight_files(root)
    }
    return {"algorithm": algorithm, "files": files}


def write_manifest(root: Path, algorithm: str = "sha256", dest: Path | None = None) -> Path:
    """Write the manifest of `root` to `dest` (default: inside `root`)."""
    dest = dest or root / MANIFEST_NAME
    dest.write_text(json.dumps(build_manifest(root, algorithm), indent=1, sort_keys=True))
    return dest


def load_manifest(path: Path) -> dict:
    """Read a manifest file, with a one-line error when it is missing or malformed."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise WeightsError(f"{path}: manifest not found") from None
    except ValueError:
        data = None
    if not isinstance(data, dict) or not {"algorithm", "files"} <= data.keys():
        raise WeightsError(f"{path}: not a weights manifest (needs algorithm and files)")
    return data


def verify(root: Path, manifest_path: Path | None = None) -> list[str]:
    """Compare `root` with its manifest; return one message per problem (empty = verified)."""
    if not root.is_dir():
        raise WeightsError(f"{root}: weights directory not found: run the set-up command")
    manifest = load_manifest(manifest_path or root / MANIFEST_NAME)
    algorithm = manifest["algorithm"]
    problems = []
    for rel, want in sorted(manifest["files"].items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != want["size"]:
            problems.append(f"{rel}: size {path.stat().st_size} != manifest {want['size']}")
        elif file_digest(path, algorithm) != want["digest"]:
            problems.append(f"{rel}: {algorithm} mismatch (corrupted)")
    return problems
