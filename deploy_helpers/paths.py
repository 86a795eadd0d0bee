"""Where the suite's own folders are: the one module that computes the repository root."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parent
SUITES = REPO_ROOT / "suites"
REPORTS = REPO_ROOT / "reports"
CATALOG = PACKAGE / "catalog"
