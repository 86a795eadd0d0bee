"""The fault matrix: every fault a user can meet ends in bounded time with one named cause.

Each case runs the real suites in a subprocess, as a user would, and injects one fault: a
service that hangs (SIGSTOP), is killed (SIGKILL), or dies by itself mid-run (the faulty
server's FAULTY_SERVER_DIE_AFTER, vLLM's last words in its log); an endpoint that refuses
connections, is not a URL, or serves another model; weights that are not there; a reports
folder that cannot be written; a stream without its `data: [DONE]`; and a waiver whose
pattern matches everything, which must still not cover a dead service. Each asserts the
exit code, the one-line cause the user sees, the time from the fault to the exit, and
that nothing the run started is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from deploy_helpers.serve.process import free_port
from tests.report_catalog import FakeModel, write_catalog

REPO = Path(__file__).resolve().parent.parent
SUITES = ("suites/test_completions.py", "suites/test_chat.py")
SERVICE_BOUND_S = 60.0  # a service fault ends the whole run within this, from the fault
INPUT_BOUND_S = 30.0  # bad input ends the run before anything starts (pytest start-up incl.)
HEALTH_S = 30.0  # the cpu profile's serve.request_bounds.health_s (the hang is declared then)
WAIVE_ALL = {
    "check": "test_*",
    "kind": "waiver",
    "failure": ".",
    "expires": "2099-12-31",
    "source": "tests/test_fault_matrix.py",
    "reason": "covers any failure message",
}


@dataclass
class Ended:
    """How a run ended: exit code, output, seconds from the fault to the exit, run folder."""

    returncode: int
    output: str
    seconds: float
    run_dir: Path | None

    @property
    def summary(self) -> dict[str, Any]:
        """The run's summary.json."""
        return json.loads((self.run_dir / "summary.json").read_text())

    def lines_with(self, text: str) -> list[str]:
        """The output lines that contain `text`."""
        return [line for line in self.output.splitlines() if text in line]


def suite_argv(tmp_path: Path, *args: str) -> list[str]:
    """`pytest ARGS` writing its report under tmp_path/reports."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--reports-dir",
        str(tmp_path / "reports"),
        "--junitxml",
        str(tmp_path / "junit.xml"),
        *args,
    ]


def started_by(marker: Path) -> list[psutil.Process]:
    """Live processes whose command line names `marker` (the run's folders)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and any(str(marker) in a for a in cmdline):
            found.append(proc)
    return found


def gone(proc: psutil.Process) -> bool:
    """Whether `proc` no longer runs (exited, or a zombie its parent has not reaped)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def run_input(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, wrap: list[str] | None = None
) -> Ended:
    """A run whose fault is its input: timed from its start."""
    started = time.monotonic()
    done = subprocess.run(
        [*(wrap or []), *suite_argv(tmp_path, *args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    reports = tmp_path / "reports"
    runs = (
        [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
        if reports.is_dir()
        else []
    )
    return Ended(
        done.returncode,
        done.stdout + done.stderr,
        time.monotonic() - started,
        runs[0] if len(runs) == 1 else None,
    )


def run_service_fault(
    tmp_path: Path,
    weights_root: Path,
    args: list[str],
    fault: Callable[[psutil.Process], None] | None,
    env: dict[str, str] | None = None,
) -> Ended:
    """Bring the faulty server up through the real launcher, run the suites, and once a few
    tests passed apply `fault` to it (None: it dies by itself); timed from the fault (or
    from its death) to the run's exit."""
    slow = {**os.environ, "FAULTY_SERVER_DELAY_S": "0.3", **(env or {})}
    out = tmp_path / "output.txt"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            suite_argv(tmp_path, *SUITES, *args),
            cwd=REPO,
            env=slow,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 120
        while (
            not (
                servers := [
                    p for p in started_by(weights_root) if "tests.faulty_server" in p.cmdline()
                ]
            )
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert servers, "the run never started its server"
        server = servers[0]
        if fault is not None:
            while out.read_text().count(".") < 3 and time.monotonic() < deadline:
                time.sleep(0.1)  # -q progress: a dot per passed test
            assert proc.poll() is None, f"the run ended before the fault:\n{out.read_text()}"
            fault(server)
        while fault is None and not gone(server) and proc.poll() is None:
            time.sleep(0.05)
        at = time.monotonic()
        proc.wait(timeout=SERVICE_BOUND_S + 60)
        seconds = time.monotonic() - at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    runs = [p for p in (tmp_path / "reports").iterdir() if p.is_dir() and not p.is_symlink()]
    return Ended(proc.returncode, out.read_text(), seconds, runs[0])


@pytest.fixture
def engine_catalog(tmp_path: Path):
    """A test catalog whose `cpu` profile serves with the faulty server: the plain model and
    one with a waiver that matches any failure of any test."""
    return write_catalog(
        tmp_path / "cat",
        [FakeModel("smollm2-135m"), FakeModel("waived-model", known_issues=[WAIVE_ALL])],
    )


def model_args(catalog, model: str) -> list[str]:
    """Options selecting `model` of the test catalog."""
    return [
        "--catalog",
        str(catalog.root),
        "--weights-root",
        str(catalog.weights_root),
        "--model",
        model,
    ]


def assert_service_fault(
    ended: Ended, cause: str, weights_root: Path, record_property: Callable[[str, object], None]
) -> None:
    """Exit 1 within the bound; the interrupted test fails with `cause` and every later
    test that needs the service is not run for it, listed once; no waiver, nothing left."""
    record_property("fault_to_exit_s", round(ended.seconds, 1))
    out = ended.output[-6000:]
    assert ended.returncode == 1, out
    assert ended.seconds <= SERVICE_BOUND_S, f"{ended.seconds:.1f} s from fault to exit\n{out}"
    summary = ended.summary
    assert summary["verdict"] == "FAIL"
    assert [f["cause"] for f in summary["service_faults"]] == [cause], summary["service_faults"]
    counts = summary["counts"]
    assert counts["not_run"] >= 1 and counts["waived"] == 0 and counts["xfailed"] == 0, counts
    assert counts["failed"] + counts["error"] <= 1, f"one failure, not one per test: {counts}"
    not_run = {t["message"] for t in summary["tests"] if t["outcome"] == "not_run"}
    assert len(not_run) == 1 and cause in not_run.pop()
    shown = [line for line in ended.lines_with(cause) if "not run" in line]
    assert len(shown) == 2, f"one SKIPPED line, one verdict reason: {shown}"
    assert not started_by(weights_root), "the run left its server running"


def test_hung_service_is_declared_after_the_health_bound(
    tmp_path, engine_catalog, record_property
) -> None:
    ended = run_service_fault(
        tmp_path,
        engine_catalog.weights_root,
        model_args(engine_catalog, "smollm2-135m"),
        lambda server: server.send_signal(signal.SIGSTOP),
    )
    cause = f"the service stopped answering: no answer to /health for {HEALTH_S:g} s"
    assert_service_fault(ended, cause, engine_catalog.weights_root, record_property)
    assert ended.seconds >= HEALTH_S - 1, "declared hung before its bound"


def test_killed_service_is_one_cause_with_its_signal(
    tmp_path, engine_catalog, record_property
) -> None:
    ended = run_service_fault(
        tmp_path,
        engine_catalog.weights_root,
        model_args(engine_catalog, "smollm2-135m"),
        lambda server: server.send_signal(signal.SIGKILL),
    )
    assert_service_fault(
        ended,
        "the service died: server killed by signal SIGKILL (9)",
        engine_catalog.weights_root,
        record_property,
    )
    assert "last lines of" in ended.output and "Enforce eager set" in ended.output


def test_self_dying_service_shows_the_engines_last_words(
    tmp_path, engine_catalog, record_property
) -> None:
    ended = run_service_fault(
        tmp_path,
        engine_catalog.weights_root,
        model_args(engine_catalog, "smollm2-135m"),
        None,
        env={"FAULTY_SERVER_DIE_AFTER": "6"},
    )
    assert_service_fault(
        ended,
        "the service died: server exited with status 1",
        engine_catalog.weights_root,
        record_property,
    )
    fault = ended.summary["service_faults"][0]
    assert fault["fatal_line"] == "TimeoutError: RPC call to execute_model timed out."
    assert "VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS" in fault["remedy"]
    assert "EngineDeadError" in fault["last_lines"]


def test_waiver_does_not_cover_a_killed_service(tmp_path, engine_catalog, record_property) -> None:
    ended = run_service_fault(
        tmp_path,
        engine_catalog.weights_root,
        model_args(engine_catalog, "waived-model"),
        lambda server: server.send_signal(signal.SIGKILL),
    )
    assert_service_fault(
        ended,
        "the service died: server killed by signal SIGKILL (9)",
        engine_catalog.weights_root,
        record_property,
    )
    assert not [t for t in ended.summary["tests"] if t["outcome"] in ("waived", "xfailed")]
    assert "waived until" not in ended.output


def assert_input_error(
    ended: Ended, line: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """Exit 4 within the bound, with exactly one line: `ERROR: ` and `line`."""
    record_property("fault_to_exit_s", round(ended.seconds, 1))
    assert ended.returncode == 4, ended.output[-3000:]
    assert ended.seconds <= INPUT_BOUND_S, f"{ended.seconds:.1f} s"
    errors = ended.lines_with("ERROR")
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: {line}"), ended.output[-3000:]
    assert "Traceback" not in ended.output
    assert not started_by(tmp_path), "the run left something running"


def test_refused_port_is_one_line(tmp_path, record_property) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ended = run_input(tmp_path, *SUITES, "--endpoint", url, "--model", "smollm2-135m")
    assert_input_error(
        ended,
        f"endpoint {url} unreachable (ConnectError: [Errno 111] "
        "Connection refused): start the deployment",
        tmp_path,
        record_property,
    )
    assert "waived" not in ended.output and "xfail" not in ended.output


def test_endpoint_that_is_not_a_url_is_one_line(tmp_path, record_property) -> None:
    ended = run_input(tmp_path, *SUITES, "--endpoint", "not-a-url", "--model", "smollm2-135m")
    assert_input_error(ended, "--endpoint 'not-a-url' is not a URL", tmp_path, record_property)


def test_endpoint_serving_another_model_is_one_line(
    tmp_path, faulty_server, record_property
) -> None:
    faulty_server.set_defect("wrong_served_name")
    try:
        ended = run_input(
            tmp_path, *SUITES, "--endpoint", faulty_server.base_url, "--model", "smollm2-135m"
        )
    finally:
        faulty_server.set_defect(None)
    assert_input_error(
        ended,
        f"endpoint {faulty_server.base_url} serves ['other-model'], "
        "not 'smollm2-135m': pass --served-model-name",
        tmp_path,
        record_property,
    )


def test_missing_weights_root_is_one_line(tmp_path, engine_catalog, record_property) -> None:
    missing = tmp_path / "no-weights"
    ended = run_input(
        tmp_path,
        *SUITES,
        "--catalog",
        str(engine_catalog.root),
        "--weights-root",
        str(missing),
        "--model",
        "smollm2-135m",
    )
    assert_input_error(ended, f"--weights-root {missing} does not exist", tmp_path, record_property)


def test_missing_weights_directory_fails_its_stage_once(
    tmp_path, engine_catalog, record_property
) -> None:
    shutil.rmtree(engine_catalog.weights_root / "smollm2-135m")
    ended = run_input(tmp_path, *SUITES, *model_args(engine_catalog, "smollm2-135m"))
    record_property("fault_to_exit_s", round(ended.seconds, 1))
    assert ended.returncode == 1, ended.output[-3000:]
    assert ended.seconds <= INPUT_BOUND_S + 30
    where = engine_catalog.weights_root / "smollm2-135m"
    cause = f"weights stage: {where}: weights directory not found"
    assert len(ended.lines_with("ERROR suites/")) == 1, ended.output[-3000:]
    counts = ended.summary["counts"]
    assert counts["error"] == 1 and counts["not_run"] == sum(counts.values()) - 1, counts
    shown = [line for line in ended.lines_with(cause) if "not run" in line]
    assert len(shown) == 2, f"one SKIPPED line, one verdict reason: {shown}"
    assert not started_by(engine_catalog.weights_root)


def test_read_only_reports_folder_is_one_line(tmp_path, engine_catalog, record_property) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    read_only = [
        "unshare",
        "-m",
        "sh",
        "-c",
        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"',
        str(reports),
    ]
    probe = subprocess.run([*read_only, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here for a read-only folder: {probe.stderr.strip()}")
    ended = run_input(
        tmp_path, *SUITES, *model_args(engine_catalog, "smollm2-135m"), wrap=read_only
    )
    assert_input_error(
        ended,
        f"reports folder {reports}: cannot write the run's report there (Read-only file system)",
        tmp_path,
        record_property,
    )
    assert not started_by(engine_catalog.weights_root), "a bring-up started"


def test_stream_without_done_fails_its_checks(tmp_path, faulty_server, record_property) -> None:
    faulty_server.set_defect("stream_no_done")
    try:
        ended = run_input(
            tmp_path,
            *SUITES,
            "--endpoint",
            faulty_server.base_url,
            "--model",
            "smollm2-135m",
            "-k",
            "stream_equals_non_stream",
        )
    finally:
        faulty_server.set_defect(None)
    record_property("fault_to_exit_s", round(ended.seconds, 1))
    assert ended.returncode == 1, ended.output[-3000:]
    assert ended.seconds <= SERVICE_BOUND_S
    failed = ended.lines_with("FAILED suites/")
    assert len(failed) == 2, ended.output[-3000:]  # the completion and the chat stream
    assert len(ended.lines_with("the stream ended without data: [DONE]")) >= 2
    assert ended.summary["counts"]["passed"] == 0
