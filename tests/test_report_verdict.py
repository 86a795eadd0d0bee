"""Verdicts and exit codes of real suite runs (faulty server through the real launcher):
a clean run passes, a failing check fails, a waived check passes with waivers, an expired
waiver fails naming it, a catalog limitation counts as a pass, a stale waiver is reported.
Every run's summary.json is validated against its schema and its artifacts are checked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deploy_helpers.catalog.loader import catalog_hash
from deploy_helpers.report import summary as summary_file
from tests.report_catalog import FakeModel, SuiteRun, run_suites, write_catalog

SELECT = ("suites/test_chat.py", "suites/test_completions.py", "-k", "golden or models_lists")
LIVE = {
    "check": "test_golden*",
    "kind": "waiver",
    "failure": "lacks \\['Paris'\\]",
    "reason": "answers Lyon (ticket 42)",
    "expires": "2099-12-31",
    "source": "tests",
}
EXPIRED = {**LIVE, "expires": "2020-01-01"}
LIMITATION = {
    "check": "test_golden*",
    "kind": "xfail",
    "failure": "lacks \\['Paris'\\]",
    "reason": "declared: answers Lyon",
}
STALE = {**LIVE, "check": "test_no_such_check*"}

CASES = {
    "clean": FakeModel("fake-a"),
    "failing": FakeModel("fake-a", defect="wrong_answer"),
    "waived": FakeModel("fake-a", defect="wrong_answer", known_issues=[LIVE]),
    "expired": FakeModel("fake-a", defect="wrong_answer", known_issues=[EXPIRED]),
    "limitation": FakeModel("fake-a", defect="wrong_answer", known_issues=[LIMITATION]),
    "stale": FakeModel("fake-a", known_issues=[STALE]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[SuiteRun, Path]]:
    """One suite run per case, each against its own test catalog."""
    done = {}
    for name, model in CASES.items():
        where = tmp_path_factory.mktemp(name)
        catalog = write_catalog(where, [model])
        done[name] = (run_suites(where / "reports", *SELECT, *catalog.args()), catalog.root)
    return done


@pytest.mark.parametrize(
    ("case", "verdict", "code"),
    [
        ("clean", "PASS", 0),
        ("failing", "FAIL", 1),
        ("waived", "PASS WITH WAIVERS", 0),
        ("expired", "FAIL", 1),
        ("limitation", "PASS", 0),
        ("stale", "PASS", 0),
    ],
)
def test_verdict_and_exit_code(runs, case: str, verdict: str, code: int) -> None:
    run, _ = runs[case]
    summary = run.summary
    assert (summary["verdict"], run.returncode) == (verdict, code), run.output[-3000:]
    assert summary["exit_code"] == code
    assert f"verdict: {verdict}" in run.output


def test_failure_names_its_cause_first(runs) -> None:
    failures = [t for t in runs["failing"][0].summary["tests"] if t["outcome"] == "failed"]
    assert failures and all("lacks ['Paris']" in t["message"] for t in failures)


def test_waived_check_is_reported_waived_with_reason(runs) -> None:
    summary = runs["waived"][0].summary
    waived = [t for t in summary["tests"] if t["outcome"] == "waived"]
    assert len(waived) == 2 and summary["counts"]["failed"] == 0
    assert all("ticket 42" in t["message"] and "lacks ['Paris']" in t["message"] for t in waived)
    (waiver,) = summary["waivers"]
    assert waiver["status"] == "live" and len(waiver["waived"]) == 2


def test_expired_waiver_fails_naming_the_waiver(runs) -> None:
    run, _ = runs["expired"]
    failed = [t for t in run.summary["tests"] if t["outcome"] == "failed"]
    assert len(failed) == 2
    assert all("waiver 'test_golden*' expired 2020-01-01" in t["message"] for t in failed)
    assert any("expired waiver" in r for r in run.summary["verdict_reasons"])
    assert "catalog waiver" in run.output and "expired 2020-01-01" in run.output


def test_limitation_shows_as_xfailed(runs) -> None:
    summary = runs["limitation"][0].summary
    assert summary["counts"]["xfailed"] == 2 and summary["counts"]["failed"] == 0
    assert all(
        t["limitation"] == "declared: answers Lyon"
        for t in summary["tests"]
        if t["outcome"] == "xfailed"
    )


def test_stale_waiver_is_reported(runs) -> None:
    run, _ = runs["stale"]
    (waiver,) = run.summary["waivers"]
    assert waiver["matched"] == [] and "matched no test" in waiver["note"]
    assert "test_no_such_check*" in run.output


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_matches_schema(runs, case: str) -> None:
    run, _ = runs[case]
    summary_file.validate(run.summary)


def test_run_folder_has_every_artifact_and_fingerprint(runs) -> None:
    run, catalog = runs["clean"]
    names = {p.name for p in run.run_dir.iterdir()}
    assert {
        "junit.xml",
        "summary.json",
        "report.html",
        "facts.jsonl",
        "server-fake-a-eager.log",
    } <= names
    assert (run.run_dir.parent / "latest").resolve() == run.run_dir
    fp = run.summary["fingerprint"]
    assert fp["host"]["kernel"] and fp["host"]["os"]
    assert fp["host"]["chip"] == "none (CPU target)" and fp["host"]["npu_count"] == 0
    assert fp["suite"]["catalog_hash"] == catalog_hash(catalog)
    assert len(fp["suite"]["git_commit"]) == 40 and fp["suite"]["version"]
    assert fp["times"]["started"] <= fp["times"]["finished"]
    target = fp["targets"]["fake-a@cpu"]
    assert target["host_nodes"]["node 0 (127.0.0.1)"]["kernel"] == fp["host"]["kernel"]
    assert target["engine"]["version"] == "0.0.0-faulty"
    assert len(target["weights"]["manifest_sha256"]) == 64
    (bring_up,) = target["bring_ups"]
    assert "tests.faulty_server" in bring_up["argv"] and "--port" in bring_up["argv"]
    html = (run.run_dir / "report.html").read_text()
    for fact in (fp["suite"]["catalog_hash"], fp["host"]["kernel"], "0.0.0-faulty"):
        assert fact in html
    assert "not recorded" not in html, "a host fact of the sign-off is missing"
    junit = (run.run_dir / "junit.xml").read_text()
    assert 'name="target" value="fake-a@cpu"' in junit
    suite_properties = {
        p.get("name"): p.get("value")
        for p in ET.parse(run.run_dir / "junit.xml").getroot().find("testsuite").find("properties")
    }
    assert suite_properties["verdict"] == run.summary["verdict"]
    assert suite_properties["fingerprint.suite.catalog_hash"] == catalog_hash(catalog)
    assert suite_properties["fingerprint.host.chip"] == "none (CPU target)"
    assert (
        "tests.faulty_server" in suite_properties["fingerprint.targets.fake-a@cpu.bring_ups.0.argv"]
    )


def test_invalid_summary_is_rejected_naming_the_field(runs) -> None:
    summary = runs["clean"][0].summary
    summary["verdict"] = "MAYBE"
    with pytest.raises(summary_file.ReportError, match="verdict"):
        summary_file.validate(summary)
    del summary["fingerprint"]["suite"]["catalog_hash"]
    summary["verdict"] = "PASS"
    with pytest.raises(summary_file.ReportError, match="catalog_hash"):
        summary_file.validate(summary)
