"""The fleet report from recorded material: Ansible's events and fetched run folders become
unit outcomes (each failure named as what it is), drift, outliers, timing, summary.json
(valid against its schema), junit.xml (one testsuite per unit) and report.html."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deploy_helpers.errors import SuiteError
from deploy_helpers.fleet import drift, events, gather, leftovers, report
from deploy_helpers.fleet.inventory import Unit
from deploy_helpers.report.results import OUTCOMES

T0 = 1_800_000_000.0


def unit(name: str, hardware: str = "cpu", nodes: list[str] | None = None) -> Unit:
    return Unit(
        name=name,
        group="g",
        model="smollm2-135m",
        hardware=hardware,
        address=f"10.0.0.{len(name)}",
        nodes=nodes or [],
    )


def run_summary(
    target: str,
    verdict: str = "PASS",
    reasons: tuple[str, ...] = (),
    manifest: str = "aa",
    nodes: dict | None = None,
    perf: list | None = None,
) -> dict:
    """A minimal summary.json of one suite run, valid against summary.schema.json."""
    return {
        "schema_version": 1,
        "run_id": "r1",
        "verdict": verdict,
        "verdict_reasons": list(reasons),
        "simulated": None,
        "exit_code": 1 if verdict == "FAIL" else 0,
        "pytest_exit_status": 0,
        "command": [],
        "counts": {**dict.fromkeys(OUTCOMES, 0), "passed": 3},
        "fingerprint": {
            "suite": {
                "version": "0.1.0",
                "git_commit": "c0ffee",
                "git_dirty": False,
                "catalog": "shipped",
                "catalog_hash": "0" * 64,
                "python": "3.11",
            },
            "times": {
                "started": "2026-12-01T00:00:00Z",
                "finished": "2026-12-01T00:00:09Z",
                "duration_s": 9,
            },
            "host": {"kernel": "6.1.0", "os": "Debian 12"},
            "run": {},
            "targets": {
                target: {
                    "weights": {"manifest_sha256": manifest},
                    "engine": {"version": "0.32.0"},
                    "host_nodes": nodes or {"node 0 (h)": {"driver": "24.1", "kernel": "6.1.0"}},
                }
            },
        },
        "tests": [],
        "waivers": [],
        "perf": perf or [],
        "measurements": [],
        "problems": [],
        "artifacts": {
            "junit": "junit.xml",
            "html": "report.html",
            "facts": None,
            "logs": [],
            "perf": [],
        },
        "redacted_files": [],
    }


JUNIT = (
    '<testsuites><testsuite name="pytest" tests="1"><testcase classname="suites.test_x" '
    'name="test_ok" time="0.1"/></testsuite></testsuites>'
)


def fetched(fleet: Path, name: str, stage: str, summary: dict | None) -> None:
    """A stage's run folder as the playbook fetches it: <stage>.tar.gz of <stage>/<run>/."""
    archive = fleet / "units" / name / f"{stage}.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        files = {"junit.xml": JUNIT, "facts.jsonl": ""}
        if summary is not None:
            files["summary.json"] = json.dumps(summary)
        for file, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stage}/20261201T000000Z-1/{file}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"{stage}/latest")
        link.type, link.linkname = tarfile.SYMTYPE, "20261201T000000Z-1"
        tar.addfile(link)


def task(
    play: str,
    name: str,
    host: str,
    status: str = "ok",
    rc: int | None = None,
    msg: str = "",
    start: float = T0,
    seconds: float = 1.0,
    tail: list | None = None,
) -> str:
    return json.dumps(
        {
            "event": "task",
            "play": play,
            "task": name,
            "host": host,
            "status": status,
            "rc": rc,
            "msg": msg,
            "start": start,
            "end": start + seconds,
            "stdout_tail": tail or [],
            "stderr_tail": [],
        }
    )


def batch(play: str) -> str:
    return json.dumps({"event": "batch", "play": play, "time": T0})


def passed_stage(play: str, host: str, start: float, seconds: float) -> list[str]:
    return [
        task(play, "suite", host, rc=0, start=start, seconds=seconds),
        task(play, "leftovers", host, rc=0, start=start + seconds, seconds=0.5),
    ]


@pytest.fixture
def fleet_run(tmp_path: Path) -> tuple[Path, list[Unit], events.Events]:
    """Six units, each a different outcome, and the events of the run that produced them."""
    units = [unit("ok"), unit("waived"), unit("badpre"), unit("crash"), unit("gone"), unit("late")]
    fleet = tmp_path / "fleet-x"
    for name in ("ok", "waived", "crash", "late"):
        fetched(fleet, name, "preflight", run_summary("smollm2-135m@cpu"))
    fetched(
        fleet,
        "badpre",
        "preflight",
        run_summary(
            "smollm2-135m@cpu",
            "FAIL",
            ("failed: suites/test_weights.py::x: weights directory not found",),
        ),
    )
    fetched(fleet, "ok", "serve", run_summary("smollm2-135m@cpu", manifest="bb"))
    fetched(
        fleet,
        "waived",
        "serve",
        run_summary("smollm2-135m@cpu", "PASS WITH WAIVERS", ("waived: a: b",)),
    )
    fetched(fleet, "crash", "serve", None)  # killed before its summary.json
    lines = [
        batch("preflight"),
        task(
            "preflight",
            "suite version",
            "gone",
            "unreachable",
            msg="Task failed: Data could not be sent: ssh: connect to host 10.0.0.4 "
            "port 22: Connection refused",
        ),
        task("preflight", "reachable", "gone", "failed", msg="Data could not be sent"),
    ]
    for i, name in enumerate(("ok", "waived", "crash", "late")):
        lines += passed_stage("preflight", name, T0 + i, 10)
    lines += [
        task("preflight", "suite", "badpre", rc=1, start=T0, seconds=10),
        task("preflight", "verdict", "badpre", "failed", msg="exited 1"),
    ]
    for i, name in enumerate(("ok", "waived")):
        lines += [batch("serve"), *passed_stage("serve", name, T0 + 20 + 30 * i, 30)]
    lines += [
        batch("serve"),
        task(
            "serve",
            "suite",
            "crash",
            rc=-9,
            start=T0 + 80,
            seconds=5,
            tail=["suites/test_completions.py "],
        ),
        task(
            "serve",
            "leftovers",
            "crash",
            rc=0,
            start=T0 + 85,
            seconds=1,
            tail=["pid 42: python -m tests.faulty_server --port 1"],
        ),
        task("serve", "verdict", "crash", "failed", msg="the serve suite exited -9"),
        json.dumps({"event": "stopped", "play": "serve", "time": T0 + 90}),
    ]
    return fleet, units, events.parse(lines)


def test_each_unit_outcome_is_named_for_what_it_is(fleet_run) -> None:
    fleet, units, seen = fleet_run
    results = {r.unit.name: r for r in gather.gather(fleet, units, seen, None)}
    assert {n: (r.verdict, r.failure) for n, r in results.items()} == {
        "ok": ("PASS", None),
        "waived": ("PASS WITH WAIVERS", None),
        "badpre": ("FAIL", "preflight failed"),
        "crash": ("FAIL", "never reported"),
        "gone": ("FAIL", "unreachable"),
        "late": ("FAIL", "not run"),
    }
    assert results["gone"].reasons == [
        "Data could not be sent: ssh: connect to host 10.0.0.4 port 22: Connection refused"
    ]
    assert results["badpre"].reasons[0].endswith("weights directory not found")
    assert results["badpre"].stages["serve"].state == "not run"
    assert results["crash"].reasons == [
        "the serve suite exited -9 (killed by SIGKILL) without writing its report: "
        "suites/test_completions.py"
    ]
    assert results["crash"].stages["serve"].leftovers == [
        "pid 42: python -m tests.faulty_server --port 1"
    ]
    assert results["late"].reasons == [
        "serve not run: the run stopped early in the serve play: every unit of its batch failed "
        "(crash), and Ansible ends a serial play then"
    ]
    assert results["ok"].stages["serve"].run_dir == "units/ok/serve/20261201T000000Z-1"
    assert not (fleet / "units" / "ok" / "serve.tar.gz").exists(), "archives are unpacked"


def test_max_fail_percentage_is_named_as_the_reason_of_not_run(fleet_run) -> None:
    _, _, seen = fleet_run
    assert gather.stop_reason(seen, 50) == (
        "the run stopped early in the serve play: 1 of 1 units of its batch failed (crash), "
        "over max_fail_percentage 50"
    )


def test_a_passing_suite_that_leaves_processes_fails(tmp_path: Path) -> None:
    fetched(tmp_path, "u", "preflight", run_summary("smollm2-135m@cpu"))
    seen = events.parse(
        [
            batch("preflight"),
            task("preflight", "suite", "u", rc=0),
            task("preflight", "leftovers", "u", rc=0, tail=["pid 7: vllm serve"]),
        ]
    )
    stage = gather.stage_result(tmp_path, unit("u"), "preflight", seen)
    assert stage.state == "failed"
    assert stage.reasons == ["left running after the suite, stopped: pid 7: vllm serve"]


def test_a_stage_passes_only_with_exit_0_and_a_passing_verdict(tmp_path: Path) -> None:
    for rc, verdict, state in ((0, "FAIL", "failed"), (1, "PASS", "failed"), (0, "PASS", "passed")):
        fetched(tmp_path, "u", "serve", run_summary("smollm2-135m@cpu", verdict))
        seen = events.parse([batch("serve"), task("serve", "suite", "u", rc=rc)])
        stage = gather.stage_result(tmp_path, unit("u"), "serve", seen)
        assert stage.state == state, (rc, verdict)
        if state == "failed":
            assert stage.reasons == [f"the serve suite exited {rc} with verdict {verdict}"]


@pytest.mark.parametrize(
    ("rc", "text"),
    [
        (-9, "-9 (killed by SIGKILL)"),
        (137, "137 (killed by SIGKILL)"),
        (124, "124 (out of time: suite_timeout_s)"),
        (1, "1"),
        (None, "with no exit code"),
    ],
)
def test_exit_codes_are_told_in_words(rc: int | None, text: str) -> None:
    assert gather.exit_text(rc) == text


def _result(name: str, summary: dict, hardware: str = "cpu") -> gather.UnitResult:
    stages = {s: gather.StageResult(s, "passed", summary=summary) for s in ("preflight", "serve")}
    return gather.UnitResult(unit(name, hardware), "PASS", None, [], stages, 1.0)


def test_drift_names_the_differing_field_and_units() -> None:
    target = "smollm2-135m@cpu"
    two = [
        _result("a", run_summary(target, manifest="aa")),
        _result("b", run_summary(target, manifest="bb")),
    ]
    (row,) = drift.drift(two)
    assert row == {
        "profile": "cpu",
        "field": "weights manifest sha256",
        "values": {"a": "aa", "b": "bb"},
        "majority": None,
        "differing": ["a", "b"],
        "within_unit": [],
    }
    three = [*two, _result("c", run_summary(target, manifest="aa"))]
    (row,) = drift.drift(three)
    assert (row["majority"], row["differing"]) == ("aa", ["b"])
    other_profile = [
        two[0],
        _result("p", run_summary("smollm2-135m@cpu-two-node", manifest="zz"), "cpu-two-node"),
    ]
    assert drift.drift(other_profile) == [], "units of different profiles are not compared"


def test_drift_between_the_nodes_of_one_unit() -> None:
    target = "smollm2-135m@atlas-a2"
    nodes = {
        "node 0 (10.0.1.1)": {"driver": "24.1.rc3", "kernel": "5.10"},
        "node 1 (10.0.1.2)": {"driver": "24.1.rc2", "kernel": "5.10"},
    }
    (row,) = drift.drift([_result("pair", run_summary(target, nodes=nodes), "atlas-a2")])
    assert row["field"] == "driver" and row["within_unit"] == ["pair"]
    assert row["values"] == {"pair": "node 0 (10.0.1.1): 24.1.rc3; node 1 (10.0.1.2): 24.1.rc2"}


def _perf(tok_s: float, ttft_p99: float) -> list[dict]:
    return [
        {
            "name": "small",
            "concurrency": 8,
            "output_tok_s": tok_s,
            "file": "perf-x.json",
            "metrics": {"ttft_ms": {"mean": 1, "median": 1, "p90": 1, "p99": ttft_p99}},
        }
    ]


def test_outliers_against_the_profile_median() -> None:
    target = "smollm2-135m@cpu"
    results = [
        _result(n, run_summary(target, perf=_perf(tok, ttft)))
        for n, tok, ttft in (("a", 60.0, 2000.0), ("b", 58.0, 2100.0), ("c", 30.0, 2050.0))
    ]
    rows = {(r["unit"], r["figure"]): r for r in drift.outliers(results)}
    slow = rows[("c", "small c=8 output tok/s")]
    assert (slow["outlier"], slow["worse"], slow["median"], slow["deviation_pct"]) == (
        True,
        True,
        58.0,
        -48.3,
    )
    assert rows[("a", "small c=8 output tok/s")]["outlier"] is False
    assert not any(r["outlier"] for r in rows.values() if "TTFT" in r["figure"])
    pair = drift.outliers(results[:2])
    assert {r["outlier"] for r in pair} == {None}, "two units: no odd one out"


def _record(fleet_run) -> dict:
    fleet, units, seen = fleet_run
    results = gather.gather(fleet, units, seen, None)
    context = {
        "inventory": "inv.yml",
        "command": ["ansible-playbook"],
        "settings": {
            "forks": 10,
            "serial": "1",
            "max_fail_percentage": None,
            "limit": None,
            "model": None,
            "catalog": None,
        },
        "suite": {"version": "0.1.0", "git_commit": "c0ffee", "uncommitted_sha256": None},
        "ansible": {"exit_code": 2, "version": "2.19"},
        "times": {"started": "a", "finished": "b", "wall_s": 100.0},
    }
    return report.assemble(fleet_id="x", results=results, events=seen, context=context)


def test_the_fleet_report_files(fleet_run) -> None:
    fleet = fleet_run[0]
    record = report.write(fleet, _record(fleet_run))
    assert record["verdict"] == "FAIL" and record["exit_code"] == 1
    assert [r.split(":")[0] for r in record["verdict_reasons"]] == [
        "badpre",
        "crash",
        "gone",
        "late",
    ]
    stages = record["timing"]["stages"]
    assert stages["preflight"]["units"] == 6 and stages["serve"]["units"] == 3
    assert stages["preflight"]["wall_s"] == 13.5  # four passing units started a second apart
    assert stages["preflight"]["speedup"] > 3  # they ran side by side
    suites = ET.parse(fleet / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["ok", "waived", "badpre", "crash", "gone", "late"]
    ok, gone = suites[0], suites[4]
    assert ok.get("tests") == "3" and ok.get("failures") == "0"  # two stages + qualification
    assert ok.find("testcase").get("classname") == "ok.preflight.suites.test_x"
    (failure,) = gone.iter("failure")
    assert failure.get("message").startswith("unreachable: Data could not be sent")
    props = {p.get("name"): p.get("value") for p in gone.iter("property")}
    assert props["fleet.verdict"] == "FAIL" and props["unit.failure"] == "unreachable"
    page = (fleet / "report.html").read_text()
    assert 'data-verdict="FAIL"' in page
    assert page.count('data-unit-verdict="FAIL"') == 4
    assert 'data-drift-field="weights manifest sha256"' in page
    assert json.loads((fleet / "summary.json").read_text()) == record


def test_a_record_off_its_schema_is_one_line(fleet_run) -> None:
    record = _record(fleet_run)
    record["units"][0]["verdict"] = "MAYBE"
    with pytest.raises(SuiteError, match=r"^fleet summary.json: units/0/verdict: 'MAYBE' is not "):
        report.validate(record)


def test_leftovers_are_the_processes_holding_files_of_the_run_folder(tmp_path: Path) -> None:
    run, elsewhere = tmp_path / "run", tmp_path / "other"
    run.mkdir()
    elsewhere.mkdir()
    with (run / "server.log").open("w") as mine, (elsewhere / "x.log").open("w") as theirs:
        ours = subprocess.Popen(["sleep", "60"], stdout=mine)
        other = subprocess.Popen(["sleep", "60"], stdout=theirs)
    try:
        assert [h.pid for h in leftovers.holders(run)] == [ours.pid]
        done = subprocess.run(
            [sys.executable, "-m", "deploy_helpers.fleet.leftovers", str(run), "--stop"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout == f"pid {ours.pid}: sleep 60\n"
        deadline = time.monotonic() + 10
        while ours.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ours.poll() is not None, "the leftover was not stopped"
        assert other.poll() is None, "a process of another folder was touched"
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()
