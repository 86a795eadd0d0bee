"""`report`: compare two runs, render a report again, check it in headless Chromium."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from deploy_helpers.paths import REPORTS
from deploy_helpers.report import summary
from deploy_helpers.report.diff import as_text, diff


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` command and its sub-commands."""
    parser = subparsers.add_parser("report", help="sign-off reports of suite runs")
    sub = parser.add_subparsers(dest="report_command", required=True)
    d = sub.add_parser("diff", help="outcomes that changed and figures that moved, A -> B")
    d.add_argument("run_a", help="run folder, summary.json or run id under reports/")
    d.add_argument("run_b")
    d.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        help="relative change a perf figure may make unreported (default 0.05)",
    )
    d.add_argument("--json", action="store_true", help="print the diff as JSON")
    d.set_defaults(run=run_diff)
    r = sub.add_parser("render", help="write report.html again from summary.json")
    r.add_argument("run_dir", metavar="RUN")
    r.set_defaults(run=run_render)
    c = sub.add_parser("check", help="open report.html in headless Chromium; save report.png")
    c.add_argument("run_dir", metavar="RUN")
    c.set_defaults(run=run_check)


def run_diff(args: argparse.Namespace) -> int:
    """Exit 1 when B regressed against A (a check stopped passing, a figure got worse)."""
    a = summary.load(summary.locate(args.run_a, REPORTS))
    b = summary.load(summary.locate(args.run_b, REPORTS))
    result = diff(a, b, args.tolerance)
    if args.json:
        print(json.dumps(asdict(result), indent=1))
    else:
        print(as_text(result, a, b, args.tolerance))
    return 1 if result.regressions else 0


def run_render(args: argparse.Namespace) -> int:
    """Render report.html of a run again."""
    from deploy_helpers.report.writer import rerender

    print(rerender(summary.locate(args.run_dir, REPORTS)))
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Exit 1 unless the page loads without console errors, shows its verdict and, when
    the run measured performance, shows a plot."""
    from deploy_helpers.report.browser import check_page

    run_dir = summary.locate(args.run_dir, REPORTS)
    doc = summary.load(run_dir)
    page = check_page(run_dir / summary.HTML_FILE, run_dir / "report.png")
    print(f"verdict shown: {page.verdict}; plots: {page.plots}; screenshot: {page.screenshot}")
    for error in page.console_errors:
        print(f"console error: {error}")
    if doc.get("perf") and not page.plots:
        print("the run measured performance but the page shows no plot")
        return 1
    return 0 if page.verdict == doc["verdict"] and not page.console_errors else 1
