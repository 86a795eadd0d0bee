"""Fixtures for the suite's own tests: a running faulty server and a way to run the suites."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploy_helpers.serve.process import free_port, running_process

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the suite runs these tests start, however the tests were started.

    A non-interactive shell starts a background job with SIGINT ignored (POSIX), children
    inherit that, and Python then never raises KeyboardInterrupt: the tests that press
    Ctrl-C on a running suite would see it ignored. A handler, unlike SIG_IGN, is not
    inherited across exec: the suites start with SIGINT at its default.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class FaultyServer:
    """A faulty server process and the switch of its active defect."""

    base_url: str

    def set_defect(self, name: str | None) -> None:
        """Switch the server to defect `name` (None: clean)."""
        httpx.post(f"{self.base_url}/_control", json={"defect": name}).raise_for_status()


@pytest.fixture(scope="session", autouse=True)
def suite_runs_report_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Suite runs started by these tests write their run folders to a temp folder, never
    into the repository's reports/ (a run may still name its own --reports-dir)."""
    before = os.environ.get("SUITE_REPORTS_DIR")
    os.environ["SUITE_REPORTS_DIR"] = str(tmp_path_factory.mktemp("suite-reports"))
    yield
    if before is None:
        del os.environ["SUITE_REPORTS_DIR"]
    else:
        os.environ["SUITE_REPORTS_DIR"] = before


@pytest.fixture(scope="session")
def faulty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyServer]:
    """The faulty OpenAI-compatible server of tests/faulty_server.py, clean to start with."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "tests.faulty_server", "--port", str(port)]
    log = tmp_path_factory.mktemp("faulty") / "server.log"
    with running_process(argv, {"PYTHONPATH": str(REPO)}, log, base_url, "smollm2-135m", 30):
        yield FaultyServer(base_url)


@dataclass
class SuiteRun:
    """The outcome of one run of the suites."""

    returncode: int
    output: str


@pytest.fixture
def run_suites(tmp_path: Path) -> Callable[..., SuiteRun]:
    """Run `pytest suites/ ARGS` in a subprocess and capture what it printed; when ARGS
    name suite files, only those run (other suites are not under test there)."""

    def run(*args: str, timeout: float = 300) -> SuiteRun:
        where = [] if any(a.startswith("suites/") for a in args) else ["suites/"]
        argv = [
            sys.executable,
            "-m",
            "pytest",
            *where,
            "-p",
            "no:cacheprovider",
            "--junitxml",
            str(tmp_path / "junit.xml"),
            "--reports-dir",
            str(tmp_path / "reports"),
            "-q",
            *args,
        ]
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        return SuiteRun(done.returncode, done.stdout + done.stderr)

    return run


@dataclass
class FakeEngineCatalog:
    """A catalog copy whose `cpu` profile serves with tests/faulty_server.py instead of vLLM."""

    catalog: Path
    weights_root: Path

    def args(self) -> list[str]:
        """The suite options that select it for the embedded model."""
        return [
            "--catalog",
            str(self.catalog),
            "--weights-root",
            str(self.weights_root),
            "--model",
            "smollm2-135m",
        ]


@pytest.fixture
def fake_engine_catalog(tmp_path: Path) -> FakeEngineCatalog:
    """Bring-ups through the real launcher, fixtures and checks, in about a second each.

    The weights are a tiny healthy tree with a real manifest, so the weights stage runs too.
    """
    from tests.report_catalog import copy_with_faulty_engine
    from tests.weights_tree import make_tree

    catalog = copy_with_faulty_engine(tmp_path)
    weights = make_tree(tmp_path / "weights" / "smollm2-135m", "smollm2-135m")
    return FakeEngineCatalog(catalog, weights.parent)
