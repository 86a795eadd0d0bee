"""Safetensors layout: every shard the index names is present and whole.

Needs no manifest: `model.safetensors.index.json` maps each tensor to a shard file, and a
safetensors file starts with an 8-byte little-endian header length and a JSON header whose
largest `data_offsets` end, plus the header, must equal the file size. A truncated shard
or a shard missing a tensor the index puts there fails here, naming the file.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

INDEX_NAME = "model.safetensors.index.json"
MAX_HEADER = 100 << 20  # the format's own cap on the JSON header


def read_index(root: Path) -> dict[str, str] | None:
    """The index's tensor -> shard map, None without an index; ValueError when malformed."""
    path = root / INDEX_NAME
    if not path.is_file():
        return None
    try:
        weight_map = json.loads(path.read_text())["weight_map"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{INDEX_NAME}: malformed ({exc!r}): re-download it") from None
    if not isinstance(weight_map, dict):
        raise ValueError(f"{INDEX_NAME}: weight_map is not an object: re-download it")
    return weight_map


def read_header(path: Path) -> tuple[int, dict]:
    """Header length and JSON header of a safetensors file; ValueError naming a damaged one."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{path.name}: {size} bytes, too short for a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER or 8 + length > size:
            raise ValueError(
                f"{path.name}: header length {length} does not fit the file "
                f"({size} bytes): truncated or not safetensors"
            )
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            raise ValueError(f"{path.name}: unreadable safetensors header (corrupted)") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path.name}: safetensors header is not an object (corrupted)")
    return length, header


def check_shard(path: Path) -> list[str]:
    """Problems of one safetensors file: damaged header, or data size != file size."""
    try:
        length, header = read_header(path)
    except ValueError as exc:
        return [str(exc)]
    ends = [
        t["data_offsets"][1]
        for name, t in header.items()
        if name != "__metadata__" and isinstance(t, dict) and "data_offsets" in t
    ]
    expected = 8 + length + max(ends, default=0)
    actual = path.stat().st_size
    if actual != expected:
        kind = "truncated" if actual < expected else "has trailing bytes"
        return [f"{path.name}: {kind}: {actual} bytes, its header describes {expected}"]
    return []


def check_layout(root: Path) -> list[str]:
    """Every shard of the index present, holding its tensors; every safetensors file whole."""
    try:
        weight_map = read_index(root)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    shards = sorted(p for p in root.glob("*.safetensors"))
    if weight_map is None:
        if len(shards) > 1:
            problems.append(
                f"{INDEX_NAME}: missing, but {len(shards)} safetensors shards "
                "exist: re-download the index"
            )
        if not shards and not any(root.glob("*.bin")):
            problems.append(f"{root.name}: no *.safetensors weights: download them")
    by_shard: dict[str, set[str]] = {}
    for tensor, shard in (weight_map or {}).items():
        by_shard.setdefault(shard, set()).add(tensor)
    for shard, tensors in sorted(by_shard.items()):
        path = root / shard
        if not path.is_file():
            problems.append(
                f"{shard}: missing (listed in {INDEX_NAME}, {len(tensors)} tensors): re-download it"
            )
            continue
        try:
            absent = tensors - read_header(path)[1].keys()
        except ValueError:
            continue  # check_shard below reports the damage
        if absent:
            problems.append(
                f"{shard}: lacks {len(absent)} tensors {INDEX_NAME} puts there "
                f"(e.g. {sorted(absent)[0]}): re-download it"
            )
    for path in shards:
        problems.extend(check_shard(path))
    return problems
