"""Task scores and BFCL pass rates reach summary.json, report.html (a table and a plot, in
headless Chromium) and `report diff` (scores that moved), from real suite runs on the
faulty server through the real launcher: every graph mode of the cpu profile scored."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deploy_helpers.report.browser import check_page
from tests.report_catalog import REPO, FakeModel, SuiteRun, run_suites, write_catalog

SELECT = (
    "suites/test_accuracy.py",
    "suites/test_bfcl.py",
    "-k",
    "meets_baseline or simple_python or irrelevance",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """A run whose server answers every capital, and one whose server answers them wrong."""
    where = tmp_path_factory.mktemp("scores")
    clean = write_catalog(where / "clean", [FakeModel("fake-a")])
    wrong = write_catalog(where / "wrong", [FakeModel("fake-a", defect="wrong_capitals")])
    return {
        "clean": run_suites(where / "reports", *SELECT, *clean.args()),
        "wrong": run_suites(where / "reports", *SELECT, *wrong.args()),
    }


def scores(run: SuiteRun) -> dict[str, dict]:
    """The run's score measurements by name."""
    return {m["name"]: m for m in run.summary["measurements"] if m.get("kind")}


def test_scores_reach_summary_and_page(runs) -> None:
    run = runs["clean"]
    assert (run.summary["verdict"], run.returncode) == ("PASS", 0), run.output[-3000:]
    found = scores(run)
    assert set(found) == {
        "accuracy_capitals_compiled",
        "accuracy_capitals_eager",
        "accuracy_capitals_chat_compiled",
        "accuracy_capitals_chat_eager",
        "bfcl_pass_rate_simple_python",
        "bfcl_pass_rate_irrelevance",
    }
    eager = found["accuracy_capitals_eager"]
    assert (eager["value"], eager["samples"], eager["mode"], eager["baseline"]) == (
        1.0,
        40,
        "eager",
        0.55,
    )
    assert eager["interval"][0] > 0.9 and eager["floor"] == 0.35 and eager["chance"] == 0.0
    page = check_page(run.run_dir / "report.html", run.run_dir / "report.png")
    assert page.console_errors == [] and page.verdict == "PASS"
    assert page.plots == 1, "the scores plot (no perf was measured)"
    html = (run.run_dir / "report.html").read_text()
    assert 'id="scores"' in html and "capitals (compiled)" in html and "BFCL irrelevance" in html


def test_wrong_answers_fail_accuracy_in_every_mode(runs) -> None:
    run = runs["wrong"]
    assert (run.summary["verdict"], run.returncode) == ("FAIL", 1)
    failed = {t["name"]: t["message"] for t in run.summary["tests"] if t["outcome"] == "failed"}
    assert set(failed) == {
        "test_accuracy_meets_baseline[fake-a@cpu-compiled-capitals]",
        "test_accuracy_meets_baseline[fake-a@cpu-eager-capitals]",
        "test_accuracy_meets_baseline[fake-a@cpu-compiled-capitals_chat]",
        "test_accuracy_meets_baseline[fake-a@cpu-eager-capitals_chat]",
    }
    below = {
        "capitals": ("capitals exact_match,strict-match 0.00 (n=40", "is below its floor 0.35"),
        "capitals_chat": ("capitals_chat exact_match,city 0.00 (n=40", "is below its floor 0.17"),
    }
    for name, message in failed.items():
        task = name.rsplit("-", 1)[-1].removesuffix("]")
        assert all(part in message for part in below[task]), (name, message)


def test_diff_lists_the_scores_that_moved(runs) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deploy_helpers",
            "report",
            "diff",
            str(runs["clean"].run_dir),
            str(runs["wrong"].run_dir),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    moved = {
        m["score"]: (m["change"], m["change_points"]) for m in json.loads(done.stdout)["scores"]
    }
    metric, chat = "exact_match,strict-match", "exact_match,city"
    assert moved == {
        f"fake-a@cpu capitals (compiled) {metric}": ("regressed", -100.0),
        f"fake-a@cpu capitals (eager) {metric}": ("regressed", -100.0),
        f"fake-a@cpu capitals_chat (compiled) {chat}": ("regressed", -100.0),
        f"fake-a@cpu capitals_chat (eager) {chat}": ("regressed", -100.0),
    }
