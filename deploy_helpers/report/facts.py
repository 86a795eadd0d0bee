"""What the stages of a run contribute to its report: a JSON-lines file in the run folder.

Any stage (a fixture, a launcher, a host check, an xdist worker) appends records to
`reports/<run-id>/facts.jsonl`; the report reads them all at the end of the run. A record:

    {"section": "host", "target": null, "facts": {"driver": "24.1.rc3"},
     "append": false, "source": "host_checks", "time": "2026-...Z", "worker": "gw0"}

`section` names a part of the fingerprint ("host", "image", "weights", "serve", "engine",
or any new name); `target` is a target id ("qwen3-8b@atlas-300i-duo") or null for the
whole run; facts of the same section and target are merged, later ones win, unless
`append` is true: then each record is one entry of a list (e.g. one per bring-up).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

FACTS_FILE = "facts.jsonl"
BRING_UP = "bring_ups"  # the appended section the launcher writes, one entry per bring-up


@dataclass(frozen=True)
class Fact:
    """One record a stage result contributes: a section's facts, for a target or the run."""

    section: str
    facts: dict[str, Any]
    target: str | None = None
    append: bool = False


@runtime_checkable
class StageResult(Protocol):
    """What a stage returns: anything that tells the report what it found."""

    def facts(self) -> list[Fact]:
        """The records this result adds to the run's fingerprint."""


def now_iso() -> str:
    """The current UTC time, ISO 8601 with a Z."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def record(
    run_dir: Path,
    section: str,
    facts: dict[str, Any],
    *,
    target: str | None = None,
    append: bool = False,
    source: str = "",
) -> None:
    """Append one record to the run's facts file (safe across processes)."""
    line = json.dumps(
        {
            "section": section,
            "target": target,
            "facts": facts,
            "append": append,
            "source": source,
            "time": now_iso(),
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        },
        default=str,
        ensure_ascii=False,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / FACTS_FILE).open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # whole lines even with several xdist workers
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read(run_dir: Path) -> list[dict[str, Any]]:
    """Every record of the run's facts file, in order (none if it does not exist)."""
    path = run_dir / FACTS_FILE
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append(
                {
                    "section": "problems",
                    "target": None,
                    "append": True,
                    "facts": {"problem": f"{FACTS_FILE} line {number} is not JSON"},
                }
            )
    return records


def merge(records: Iterable[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    """Records folded into {target or None: {section: merged facts or list of entries}}."""
    merged: dict[str | None, dict[str, Any]] = {}
    for rec in records:
        sections = merged.setdefault(rec.get("target"), {})
        section, facts = rec["section"], rec.get("facts", {})
        if rec.get("append"):
            sections.setdefault(section, []).append(facts)
        else:
            sections.setdefault(section, {}).update(facts)
    return merged


def record_all(run_dir: Path, found: Iterable[Fact], source: str = "") -> None:
    """Record every fact a stage result exposes (its `facts()`)."""
    for fact in found:
        record(
            run_dir, fact.section, fact.facts, target=fact.target, append=fact.append, source=source
        )
