"""The fleet report, reports/fleet-<id>/: summary.json (fleet.schema.json), junit.xml (one
testsuite per unit) and report.html, with the fleet verdict, the units, drift and timing.

Fleet verdict: FAIL when any unit failed (for whatever reason, each named), else PASS WITH
WAIVERS when any unit passed under waivers, else PASS. Drift and outliers are shown, not
judged: a difference can be intended, and the release engineer decides.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jsonschema

from deploy_helpers.errors import SuiteError
from deploy_helpers.fleet import drift, junit
from deploy_helpers.fleet.events import Events
from deploy_helpers.fleet.gather import StageResult, UnitResult
from deploy_helpers.report.html import TEMPLATES as RUN_TEMPLATES
from deploy_helpers.report.verdict import FAIL, PASS, PASS_WITH_WAIVERS

PACKAGE = Path(__file__).resolve().parent
SCHEMA_FILE = PACKAGE / "fleet.schema.json"
TEMPLATE = "fleet.html.j2"
SUMMARY, HTML, JUNIT = "summary.json", "report.html", "junit.xml"
SCHEMA_VERSION = 1


@cache
def schema() -> dict[str, Any]:
    """The fleet summary.json JSON Schema."""
    return json.loads(SCHEMA_FILE.read_text())


def validate(record: dict[str, Any]) -> None:
    """Raise SuiteError naming the first field of `record` that breaks the schema."""
    try:
        jsonschema.validate(record, schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise SuiteError(f"fleet summary.json: {where}: {exc.message}") from None


def decide(results: list[UnitResult]) -> tuple[str, list[str]]:
    """The fleet verdict and its reasons (one per failing, then per waived, unit)."""
    failed = [r for r in results if r.verdict == FAIL]
    if failed:
        return FAIL, [
            f"{r.unit.name}: {r.failure}: {r.reasons[0] if r.reasons else ''}" for r in failed
        ]
    waived = [r for r in results if r.verdict == PASS_WITH_WAIVERS]
    if waived:
        return PASS_WITH_WAIVERS, [
            f"{r.unit.name}: {len(r.reasons)} check(s) waived" for r in waived
        ]
    return PASS, []


def timing(events: Events, wall_s: float) -> dict[str, Any]:
    """Fleet wall time against the sum of unit times, overall and per stage (play)."""

    def block(tasks: list, wall: float) -> dict[str, Any]:
        total = round(sum(t.duration_s for t in tasks), 1)
        return {
            "wall_s": round(wall, 1),
            "unit_sum_s": total,
            "speedup": round(total / wall, 2) if wall > 0 else None,
            "units": len({t.host for t in tasks}),
        }

    stages = {}
    for play in dict.fromkeys(t.play for t in events.tasks):
        tasks = [t for t in events.tasks if t.play == play and t.start and t.end]
        if tasks:
            stages[play] = block(tasks, max(t.end for t in tasks) - min(t.start for t in tasks))
    return {**block(events.tasks, wall_s), "stages": stages}


def _stage(result: StageResult) -> dict[str, Any]:
    counts = result.summary["counts"] if result.summary else None
    return {
        "state": result.state,
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "duration_s": result.duration_s,
        "run_dir": result.run_dir,
        "counts": counts,
        "reasons": result.reasons,
        "leftovers": result.leftovers,
    }


def _unit(result: UnitResult) -> dict[str, Any]:
    unit = result.unit
    return {
        "name": unit.name,
        "group": unit.group,
        "model": unit.model,
        "hardware": unit.hardware,
        "target": unit.target_id,
        "address": unit.address,
        "nodes": unit.node_addresses(),
        "verdict": result.verdict,
        "failure": result.failure,
        "reasons": result.reasons,
        "duration_s": result.duration_s,
        "stages": {name: _stage(s) for name, s in result.stages.items()},
        "figures": drift.figures(result),
        "fingerprint": {k: drift.as_text(v) for k, v in drift.unit_fingerprint(result).items()},
    }


def assemble(
    *, fleet_id: str, results: list[UnitResult], events: Events, context: dict[str, Any]
) -> dict[str, Any]:
    """The fleet summary record. `context`: inventory, command, settings, suite, ansible
    (exit code), times (started, finished, wall_s)."""
    verdict, reasons = decide(results)
    return {
        "schema_version": SCHEMA_VERSION,
        "fleet_id": fleet_id,
        "verdict": verdict,
        "verdict_reasons": reasons,
        "exit_code": 1 if verdict == FAIL else 0,
        **context,
        "timing": timing(events, context["times"]["wall_s"]),
        "units": [_unit(r) for r in results],
        "drift": drift.drift(results),
        "outliers": drift.outliers(results),
        "problems": events.problems,
        "artifacts": {
            "junit": JUNIT,
            "html": HTML,
            "ansible_log": "ansible.log",
            "events": "events.jsonl",
        },
    }


def render(record: dict[str, Any]) -> str:
    """The fleet's report.html."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([PACKAGE / "templates", RUN_TEMPLATES]),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE).render(s=record, stages=("preflight", "serve"))


def write(fleet_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Validate the record and write summary.json, junit.xml and report.html."""
    validate(record)
    (fleet_dir / SUMMARY).write_text(json.dumps(record, indent=1, ensure_ascii=False))
    junit.write(fleet_dir / JUNIT, record)
    (fleet_dir / HTML).write_text(render(record), encoding="utf-8")
    return record
