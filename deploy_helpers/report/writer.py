"""Write a run's report: results + waivers + perf -> verdict -> summary.json and report.html."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from deploy_helpers.catalog import known_issues
from deploy_helpers.report import fingerprint, html, perf, summary
from deploy_helpers.report.facts import now_iso
from deploy_helpers.report.junit_properties import add_run_properties
from deploy_helpers.report.redact import redact_argv, scrub_text, scrub_tree
from deploy_helpers.report.results import Phase, TestResult, fold
from deploy_helpers.report.verdict import decide, exit_code, simulated


def fold_all(phases: list[Phase]) -> list[TestResult]:
    """One result per test, in the order the tests first reported."""
    grouped: dict[str, list[Phase]] = defaultdict(list)
    for phase in phases:
        grouped[phase.nodeid].append(phase)
    return [fold(items) for items in grouped.values()]


JUNIT = "junit.xml"  # the run folder's JUnit XML (the suite's default --junitxml)


def write_run_report(
    run_dir: Path,
    *,
    phases: list[Phase],
    declared_waivers: list[dict[str, Any]],
    command: list[str],
    pytest_status: int,
    started: dt.datetime,
    catalog_root: str | None,
    secrets: list[str],
    twin: dict[str, Any] | None = None,
    service_faults: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Decide the verdict and write summary.json and report.html; return the summary.

    Files already in the run folder (junit.xml, logs, facts) are scrubbed of `secrets`
    first; the summary and the page are written with secrets masked at the source, and
    junit.xml gains the verdict and fingerprint as suite properties.
    """
    redacted = scrub_tree(run_dir, secrets)
    results = fold_all(phases)
    used = known_issues.usage(declared_waivers, results)
    perf_found = perf.load(run_dir)
    problems = perf_found.problems + fingerprint.problems(run_dir)
    verdict = decide(results, used, problems, pytest_status)
    if twin is not None:
        verdict = simulated(verdict, twin)
    finished = dt.datetime.now(dt.timezone.utc)
    times = {
        "started": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "finished": now_iso(),
        "duration_s": round((finished - started).total_seconds(), 1),
    }
    record = summary.assemble(
        run_dir=run_dir,
        command=[scrub_text(a, secrets) for a in redact_argv(command)],
        verdict=verdict,
        exit_code=exit_code(verdict, pytest_status),
        pytest_status=pytest_status,
        fingerprint=fingerprint.build(run_dir, fingerprint.suite_facts(catalog_root), times),
        results=results,
        waivers=used,
        perf_results=perf_found.results,
        problems=problems,
        redacted_files=redacted,
        simulated=twin,
        service_faults=service_faults,
    )
    record = _scrubbed(record, secrets)
    summary.write(run_dir, record)
    html.write(run_dir, record, perf_found.results, secrets)
    if (run_dir / JUNIT).is_file():
        add_run_properties(run_dir / JUNIT, record)
    return record


def _scrubbed(value: Any, secrets: list[str]) -> Any:
    """`value` with secrets masked in every string it holds."""
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {k: _scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, secrets) for v in value]
    return value


def rerender(run_dir: Path) -> Path:
    """Render report.html again from summary.json and the perf files (after a template change)."""
    record = summary.load(run_dir)
    return html.write(run_dir, record, perf.load(run_dir).results, secrets=[])
