"""`-n 2` and serial runs of the suites agree, write one report, and bring each model up once.

Two models served by the faulty server through the real launcher (one clean, one with a
defect so that both outcomes occur); bring-ups are counted from the launcher's records.
"""

from __future__ import annotations

import pytest

from tests.report_catalog import FakeModel, SuiteRun, run_suites, write_catalog

SUITES = ("suites/test_completions.py", "suites/test_chat.py")


@pytest.fixture(scope="module")
def serial_and_parallel(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, SuiteRun]:
    """The same selection run serially and with -n 2."""
    where = tmp_path_factory.mktemp("parallel")
    models = [FakeModel("fake-a"), FakeModel("fake-b", defect="ignores_stop")]
    catalog = write_catalog(where, models)
    serial = run_suites(where / "reports", *SUITES, *catalog.args())
    parallel = run_suites(where / "reports", *SUITES, "-n", "2", *catalog.args())
    return serial, parallel


def test_parallel_and_serial_results_agree(serial_and_parallel) -> None:
    serial, parallel = serial_and_parallel
    assert serial.outcomes() == parallel.outcomes()
    assert "failed" in serial.outcomes().values() and "passed" in serial.outcomes().values()
    assert (serial.summary["verdict"], serial.returncode) == ("FAIL", 1)
    assert (parallel.summary["verdict"], parallel.returncode) == ("FAIL", 1)


@pytest.mark.parametrize("mode", ["serial", "parallel"])
def test_one_bring_up_per_model(serial_and_parallel, mode: str) -> None:
    run = serial_and_parallel[0 if mode == "serial" else 1]
    assert run.bring_ups() == {"fake-a@cpu/eager": 1, "fake-b@cpu/eager": 1}, run.output[-2000:]


def test_parallel_run_writes_one_report(serial_and_parallel) -> None:
    _, parallel = serial_and_parallel
    assert "bringing up nodes" in parallel.output
    assert parallel.bring_up_workers() <= {"gw0", "gw1"}
    names = {p.name for p in parallel.run_dir.iterdir()}
    assert {"junit.xml", "summary.json", "report.html"} <= names
    assert len(parallel.summary["tests"]) == len(parallel.outcomes())
    logs = {p.name for p in parallel.run_dir.glob("server-*.log")}
    assert logs == {"server-fake-a-eager.log", "server-fake-b-eager.log"}
