"""summary.json: assemble the run's record, validate it against its schema, write and read it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from deploy_helpers.errors import SuiteError
from deploy_helpers.report import perf
from deploy_helpers.report.results import TestResult, counts
from deploy_helpers.report.verdict import Verdict

SCHEMA_FILE = Path(__file__).with_name("summary.schema.json")
SUMMARY_FILE = "summary.json"
HTML_FILE = "report.html"
SCHEMA_VERSION = 1


class ReportError(SuiteError):
    """A summary is missing or does not match its schema; the message says where."""


@cache
def schema() -> dict[str, Any]:
    """The summary.json JSON Schema."""
    return json.loads(SCHEMA_FILE.read_text())


def validate(summary: dict[str, Any]) -> None:
    """Raise ReportError naming the first field that breaks the schema."""
    try:
        jsonschema.validate(summary, schema(), format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise ReportError(f"summary.json: {where}: {exc.message}") from None


def artifacts(run_dir: Path) -> dict[str, Any]:
    """The files of a run folder, by kind, relative to it."""

    def present(name: str) -> str | None:
        return name if (run_dir / name).exists() else None

    return {
        "junit": present("junit.xml"),
        "html": HTML_FILE,
        "facts": present("facts.jsonl"),
        "logs": sorted(p.name for p in run_dir.glob("*.log")),
        "perf": sorted(p.name for p in run_dir.glob(perf.PATTERN)),
    }


def assemble(
    *,
    run_dir: Path,
    command: list[str],
    verdict: Verdict,
    exit_code: int,
    pytest_status: int,
    fingerprint: dict[str, Any],
    results: list[TestResult],
    waivers: list[dict[str, Any]],
    perf_results: list[dict[str, Any]],
    problems: list[str],
    redacted_files: list[str],
    simulated: dict[str, Any] | None = None,
    service_faults: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The summary record of a run (see summary.schema.json and reports/README.md)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "verdict": verdict.verdict,
        "verdict_reasons": verdict.reasons,
        "simulated": simulated,
        "exit_code": exit_code,
        "pytest_exit_status": pytest_status,
        "command": command,
        "counts": counts(results),
        "fingerprint": fingerprint,
        "tests": [r.as_dict() for r in results],
        "waivers": waivers,
        "perf": [perf.without_samples(r) for r in perf_results],
        "measurements": measurements_table(results),
        "problems": problems,
        "service_faults": service_faults or [],
        "artifacts": artifacts(run_dir),
        "redacted_files": redacted_files,
    }


def measurements_table(results: list[TestResult]) -> list[dict[str, Any]]:
    """Every measurement of the run, each with the test that recorded it."""
    return [
        {**m, "nodeid": r.nodeid, "suite": r.suite, "target": r.target, "outcome": r.outcome}
        for r in results
        for m in r.measurements
    ]


def write(run_dir: Path, summary: dict[str, Any]) -> Path:
    """Validate and write summary.json into the run folder."""
    validate(summary)
    path = run_dir / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=1, ensure_ascii=False, default=str))
    return path


def locate(run: str | Path, reports_root: Path | None = None) -> Path:
    """The run folder named by a path, a summary.json path, or a run id under reports/."""
    path = Path(run)
    if path.is_file():
        path = path.parent
    if not path.exists() and reports_root is not None:
        path = reports_root / str(run)
    if not (path / SUMMARY_FILE).is_file():
        raise ReportError(f"{run}: no {SUMMARY_FILE} there (give a run folder or a run id)")
    return path


def load(run_dir: Path) -> dict[str, Any]:
    """Read and validate a run's summary.json."""
    try:
        data = json.loads((run_dir / SUMMARY_FILE).read_text())
    except ValueError as exc:
        raise ReportError(f"{run_dir / SUMMARY_FILE}: not JSON ({exc})") from None
    validate(data)
    return data
