"""report.html opens in headless Chromium without console errors, shows the verdict and the
performance plots; a screenshot is saved next to it. Perf results that break their format
are report problems (verdict FAIL). `report diff` lists changed outcomes and moved figures."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_helpers.report.browser import check_page
from tests.report_catalog import REPO, FakeModel, SuiteRun, run_suites, write_catalog

SELECT = ("suites/test_chat.py", "-k", "golden or usage")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """A clean run with perf results, and a failing one without."""
    where = tmp_path_factory.mktemp("html")
    clean = write_catalog(where / "clean", [FakeModel("fake-a")])
    failing = write_catalog(where / "failing", [FakeModel("fake-a", defect="wrong_answer")])
    return {
        "clean": run_suites(
            where / "reports", *SELECT, "-p", "tests.perf_stage_stub", *clean.args()
        ),
        "failing": run_suites(where / "reports", *SELECT, *failing.args()),
    }


def deploy_helpers_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m deploy_helpers ARGS`."""
    return subprocess.run(
        [sys.executable, "-m", "deploy_helpers", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_renders_in_chromium_with_verdict_and_plots(runs) -> None:
    run = runs["clean"]
    assert run.summary["verdict"] == "PASS" and len(run.summary["perf"]) == 3
    page = check_page(run.run_dir / "report.html", run.run_dir / "report.png")
    assert page.console_errors == []
    assert page.verdict == "PASS"
    assert page.plots == 2, "latency distributions and throughput vs concurrency"
    assert page.screenshot.stat().st_size > 20_000


def test_failing_report_shows_failure_cause_in_chromium(runs) -> None:
    run = runs["failing"]
    done = deploy_helpers_cli("report", "check", str(run.run_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict shown: FAIL" in done.stdout
    html = (run.run_dir / "report.html").read_text()
    assert html.index('id="verdict"') < html.index('id="failures"') < html.index('id="suites"')
    assert "lacks [&#39;Paris&#39;]" in html


def test_invalid_perf_file_is_a_report_problem(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path, [FakeModel("fake-a")])
    bad = tmp_path / "perf-bad.json"
    bad.write_text(json.dumps({"name": "x", "concurrency": 0, "metrics": {}, "output_tok_s": 1}))
    run = run_suites(
        tmp_path / "reports",
        "suites/test_chat.py",
        "-k",
        "usage",
        "-p",
        "tests.perf_stage_stub",
        *catalog.args(),
        env={"PERF_STAGE_STUB_FILE": str(bad)},
    )
    assert (run.summary["verdict"], run.returncode) == ("FAIL", 1)
    assert any("perf-example.json" in p and "concurrency" in p for p in run.summary["problems"])


def test_diff_lists_changed_outcomes_and_moved_figures(runs, tmp_path: Path) -> None:
    before, after = runs["clean"].summary, runs["failing"].summary
    after["perf"] = json.loads(json.dumps(before["perf"]))
    after["perf"][2]["output_tok_s"] *= 0.8  # 20 % slower at concurrency 8
    after["perf"][0]["metrics"]["ttft_ms"]["p99"] *= 1.02  # within tolerance
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "summary.json").write_text(json.dumps(after))
    done = deploy_helpers_cli(
        "report",
        "diff",
        str(runs["clean"].run_dir),
        str(tmp_path / "b"),
        "--tolerance",
        "0.05",
        "--json",
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    changed = {o["nodeid"].split("::")[1]: (o["before"], o["after"]) for o in result["outcomes"]}
    assert changed == {"test_golden_chat[fake-a@cpu-capital-france]": ("passed", "failed")}
    (moved,) = result["perf"]
    assert (moved["figure"], moved["change"], moved["change_pct"]) == (
        "output_tok_s",
        "regressed",
        -20.0,
    )
    same = deploy_helpers_cli(
        "report", "diff", str(runs["clean"].run_dir), str(runs["clean"].run_dir)
    )
    assert same.returncode == 0 and "none" in same.stdout


def test_diff_of_a_missing_run_is_one_line_error(tmp_path: Path) -> None:
    done = deploy_helpers_cli("report", "diff", str(tmp_path / "nope"), str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error:") and len(done.stderr.strip().splitlines()) == 1


def test_check_fails_when_measured_performance_shows_no_plot(runs, tmp_path: Path) -> None:
    run = tmp_path / "no-plot"
    shutil.copytree(runs["clean"].run_dir, run)
    page = run / "report.html"
    page.write_text(re.sub(r"<img[^>]*>", "", page.read_text()))
    done = deploy_helpers_cli("report", "check", str(run))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the run measured performance but the page shows no plot" in done.stdout
