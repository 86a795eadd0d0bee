"""`python -m deploy_helpers loadgen`: bad input is one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deploy_helpers.serve.process import free_port
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("endpoint", "cause"),
    [
        ("http://127.0.0.1:{port}", "unreachable for /tokenize"),
        ("https://127.0.0.1:{port}", "needs an http:// endpoint"),
    ],
)
def test_bad_endpoint_is_one_line(endpoint: str, cause: str) -> None:
    argv = [
        sys.executable,
        "-m",
        "deploy_helpers",
        "loadgen",
        "--endpoint",
        endpoint.format(port=free_port()),
        "--model",
        "m",
        "--num-requests",
        "1",
        "--no-progress",
    ]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and cause in lines[0], done.stderr
