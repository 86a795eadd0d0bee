"""A planted API key (--api-key and env VLLM_API_KEY) appears in no file of the run folder,
even with failing checks, captured output and logs in junit.xml and locals in tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report_catalog import FakeModel, run_suites, write_catalog

PLANTED = "sk-planted-0123456789abcdef"


@pytest.mark.parametrize("how", ["option", "env"])
def test_planted_key_is_in_no_artifact(tmp_path: Path, how: str) -> None:
    catalog = write_catalog(tmp_path, [FakeModel("fake-a", defect="wrong_answer")])
    key_args = ["--api-key", PLANTED] if how == "option" else []
    env = {"VLLM_API_KEY": PLANTED} if how == "env" else {}
    run = run_suites(
        tmp_path / "reports",
        "suites/test_chat.py",
        "-k",
        "golden or usage",
        "-l",
        "-o",
        "junit_logging=all",
        "-o",
        "junit_log_passing_tests=true",
        *key_args,
        *catalog.args(),
        env=env,
    )
    assert run.returncode == 1, run.output[-2000:]  # the defect fails a check: tracebacks
    files = [p for p in run.run_dir.rglob("*") if p.is_file()]
    assert {"junit.xml", "summary.json", "report.html", "facts.jsonl"} <= {p.name for p in files}
    leaks = [str(p) for p in files if PLANTED.encode() in p.read_bytes()]
    assert not leaks, f"API key found in {leaks}"
    (bring_up,) = run.summary["fingerprint"]["targets"]["fake-a@cpu"]["bring_ups"]
    assert bring_up["env"]["VLLM_API_KEY"] == "***", "the key reached the server, masked"
    assert PLANTED not in run.output
