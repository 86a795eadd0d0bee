"""The environment a run qualified: host, suite, catalog, per-target image/weights/serve/engine.

What this machine can tell by itself is collected here (kernel, OS, CPU, suite version, git
commit, catalog hash); everything else arrives from the stages through `facts`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from deploy_helpers.catalog.loader import catalog_hash
from deploy_helpers.host.cpu import parse_cpuinfo
from deploy_helpers.host.facts import os_pretty_name
from deploy_helpers.paths import REPO_ROOT
from deploy_helpers.report import facts as run_facts

DISTRIBUTION = "llm-serving-acceptance"
# host keys a sign-off needs; the report shows "not recorded" for any no stage supplied
HOST_KEYS = ("chip", "npu_count", "chip_count", "driver", "firmware", "kernel", "os")


def os_name(os_release: Path = Path("/etc/os-release")) -> str:
    """PRETTY_NAME of os-release, or the platform's own description."""
    name = os_pretty_name(os_release.read_text()) if os_release.exists() else None
    return name or platform.platform()


def cpu_facts(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU model name, its ISA flags of interest and ISA class (deploy_helpers/host/cpu)."""
    if cpuinfo.exists():
        return parse_cpuinfo(cpuinfo.read_text(errors="replace"))
    return {"cpu": platform.processor() or "unknown", "isa_flags": [], "isa_class": "unknown"}


def local_host() -> dict[str, Any]:
    """What this machine says about itself: kernel, OS, architecture, CPU, memory."""
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "os": os_name(),
        "arch": platform.machine(),
        **cpu_facts(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(pages * page_size / 2**30, 1),
    }


def git_state(repo: Path = REPO_ROOT) -> dict[str, Any]:
    """The suite checkout's commit and whether it has uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(repo), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": git("rev-parse", "HEAD") or "unknown",
        "git_dirty": bool(status) if status is not None else None,
    }


def suite_version() -> str:
    """The installed suite's version (pyproject)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def suite_facts(catalog_root: str | None) -> dict[str, Any]:
    """Version, commit and catalog identity of the suite that ran."""
    return {
        "version": suite_version(),
        **git_state(),
        "catalog": str(catalog_root) if catalog_root else "shipped",
        "catalog_hash": catalog_hash(catalog_root),
        "python": platform.python_version(),
    }


def manifest_hash(manifest: Path) -> str:
    """SHA-256 of a weights manifest file: one value naming the exact weights verified."""
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def build(run_dir: Path, suite: dict[str, Any], times: dict[str, Any]) -> dict[str, Any]:
    """The run's fingerprint: local host facts and suite facts, plus every stage's records."""
    merged = run_facts.merge(run_facts.read(run_dir))
    run_level = merged.pop(None, {})
    host = {**local_host(), **run_level.pop("host", {})}
    run_level.pop("problems", None)
    return {
        "suite": suite,
        "times": times,
        "host": host,
        "run": run_level,
        "targets": {target: sections for target, sections in sorted(merged.items())},
    }


def problems(run_dir: Path) -> list[str]:
    """Problems stages recorded (section `problems`), e.g. an unreadable facts line."""
    run_level = run_facts.merge(run_facts.read(run_dir)).get(None, {})
    return [entry.get("problem", str(entry)) for entry in run_level.get("problems", [])]
