"""report.html: the human sign-off page, rendered from summary.json with jinja2 templates.

Templates ship with the package (report/templates/); the page is self-contained (inline CSS,
plots as base64 PNG, no script, no external resource) so it can be mailed or archived as is.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2

from deploy_helpers.report import perf
from deploy_helpers.report.fingerprint import HOST_KEYS
from deploy_helpers.report.redact import scrub_text
from deploy_helpers.report.scores import label, scores_of
from deploy_helpers.report.summary import HTML_FILE

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
ORDER = (
    "failed",
    "error",
    "not_run",
    "no_floor",
    "waived",
    "xpassed",
    "xfailed",
    "skipped",
    "passed",
)
SHOWN_STATS = ("median", "p99")  # the page's perf table; every statistic is in summary.json
MEASUREMENT_KEYS = ("name", "value", "unit", "nodeid", "suite", "target", "outcome")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = lambda v: v if isinstance(v, str) else json.dumps(v, indent=1)
    return env


def by_suite(tests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Tests grouped by suite file, failures first within each."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for test in tests:
        groups[test["suite"]].append(test)
    return {
        suite: sorted(items, key=lambda t: (ORDER.index(t["outcome"]), t["nodeid"]))
        for suite, items in sorted(groups.items())
    }


def render(summary: dict[str, Any], perf_results: list[dict[str, Any]]) -> str:
    """The HTML page of a summary; `perf_results` carry the samples the plots need."""
    from deploy_helpers.report.plots import perf_plots, scores_plot  # matplotlib: rendering only

    tests = summary["tests"]
    scores = scores_of(summary)
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            s=summary,
            failures=[t for t in tests if t["outcome"] in ("failed", "error")],
            waived=[t for t in tests if t["outcome"] == "waived"],
            limitations=[t for t in tests if t["outcome"] == "xfailed"],
            suites=by_suite(tests),
            host_keys=HOST_KEYS,
            metrics=perf.METRICS,
            shown_stats=SHOWN_STATS,
            measurement_keys=MEASUREMENT_KEYS,
            plots=perf_plots(perf_results),
            scores=scores,
            score_label=label,
            scores_png=scores_plot(scores),
        )
    )


def write(
    run_dir: Path, summary: dict[str, Any], perf_results: list[dict[str, Any]], secrets: list[str]
) -> Path:
    """Render the page into the run folder, secrets masked."""
    path = run_dir / HTML_FILE
    path.write_text(scrub_text(render(summary, perf_results), secrets), encoding="utf-8")
    return path
