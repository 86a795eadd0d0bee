"""pytest plugin (`-p tests.perf_stage_stub`) standing in for a perf stage: it drops the
documented example results (tests/data/perf-example.json, the format of
deploy_helpers/report/perf.schema.json) into the run folder as `perf-example.json`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fixtures.run_dir import RUN_DIR

EXAMPLE = Path(__file__).resolve().parent / "data" / "perf-example.json"
SOURCE_ENV = "PERF_STAGE_STUB_FILE"  # another file to drop instead (e.g. a malformed one)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Copy the example into the run folder (controller only)."""
    run_dir = session.config.stash.get(RUN_DIR, None)
    if run_dir is not None and not hasattr(session.config, "workerinput"):
        shutil.copy(os.environ.get(SOURCE_ENV, EXAMPLE), run_dir / "perf-example.json")
