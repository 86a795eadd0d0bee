"""Test catalogs for the report tests: models served by tests/faulty_server.py through the
real launcher, with a defect and known issues (waivers, limitations) chosen per model.

Each model is a copy of the embedded `smollm2-135m` entry under another name; the `cpu`
profile's serve command starts the faulty server, which ignores vLLM's flags but honours
`--defect NAME`. Bring-ups are real processes (about a second each), weights are tiny real
trees with manifests, so every stage and the report run for real.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deploy_helpers.catalog.loader import DEFAULT_CATALOG
from deploy_helpers.report import facts
from tests.weights_tree import make_tree

REPO = Path(__file__).resolve().parent.parent
BASE_MODEL = "smollm2-135m"


@dataclass
class FakeModel:
    """A test model: its name, the defect its server has, and its known issues."""

    name: str
    defect: str | None = None
    known_issues: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TestCatalog:
    """A written test catalog and the folders a suite run against it needs."""

    root: Path
    weights_root: Path
    models: list[str]

    def args(self) -> list[str]:
        """Suite options selecting every model of the catalog."""
        args = ["--catalog", str(self.root), "--weights-root", str(self.weights_root)]
        for name in self.models:
            args += ["--model", name]
        return args


def copy_with_faulty_engine(where: Path) -> Path:
    """A copy of the shipped catalog at `where/catalog` whose `cpu` profile serves with
    tests/faulty_server.py instead of vLLM."""
    root = where / "catalog"
    shutil.copytree(DEFAULT_CATALOG, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    cpu_yaml = root / "hardware" / "cpu.yaml"
    cpu = yaml.safe_load(cpu_yaml.read_text())
    cpu["serve"]["command"] = ["{python}", "-m", "tests.faulty_server"]
    cpu["serve"]["env"] = {"PYTHONPATH": str(REPO)}
    cpu["serve"]["readiness_timeout_s"] = 30
    cpu_yaml.write_text(yaml.safe_dump(cpu, sort_keys=False))
    return root


def write_catalog(where: Path, models: list[FakeModel]) -> TestCatalog:
    """A copy of the shipped catalog plus `models`, served by the faulty server."""
    root = copy_with_faulty_engine(where)
    base = yaml.safe_load((root / "models" / f"{BASE_MODEL}.yaml").read_text())
    weights_root = where / "weights"
    for model in models:
        entry = copy.deepcopy(base)
        entry["name"] = model.name
        deployment = entry["deployments"][0]
        if model.defect:
            deployment["args"] = {**deployment.get("args", {}), "--defect": model.defect}
        deployment["known_issues"] = model.known_issues
        (root / "models" / f"{model.name}.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
        make_tree(weights_root / model.name, BASE_MODEL)
    return TestCatalog(root, weights_root, [m.name for m in models])


@dataclass
class SuiteRun:
    """One suite run: its exit code, what it printed, and its run folder."""

    returncode: int
    output: str
    run_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        """The run's summary.json."""
        return json.loads((self.run_dir / "summary.json").read_text())

    def outcomes(self) -> dict[str, str]:
        """node id -> outcome."""
        return {t["nodeid"]: t["outcome"] for t in self.summary["tests"]}

    def bring_up_workers(self) -> set[str]:
        """The processes (xdist worker ids, or "main") whose launcher brought servers up."""
        return {
            rec.get("worker", "main")
            for rec in facts.read(self.run_dir)
            if rec["section"] == facts.BRING_UP
        }

    def bring_ups(self) -> dict[str, int]:
        """How many servers the launcher started, per target and graph mode."""
        counts: dict[str, int] = {}
        for rec in facts.read(self.run_dir):
            if rec["section"] == facts.BRING_UP:
                key = f"{rec['target']}/{rec['facts']['graph_mode']}"
                counts[key] = counts.get(key, 0) + 1
        return counts


def run_suites(
    reports: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> SuiteRun:
    """`pytest ARGS` (suite files among them) writing its run folder under `reports`."""
    reports.mkdir(parents=True, exist_ok=True)
    before = set(reports.iterdir())
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--reports-dir",
        str(reports),
        *args,
    ]
    done = subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    new = [p for p in set(reports.iterdir()) - before if p.is_dir() and not p.is_symlink()]
    assert len(new) == 1, f"expected one run folder, got {new}:\n{done.stdout[-3000:]}"
    return SuiteRun(done.returncode, done.stdout + done.stderr, new[0])
