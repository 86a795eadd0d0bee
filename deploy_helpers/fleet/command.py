"""The `ansible-playbook` argv of a fleet run, its environment and its extra vars.

Everything is an argv list; each unit's pytest argv is built here, from validated data, and
handed to the playbook as data (extra vars), which runs it with `command: argv:`. Ansible
reads only the shipped `ansible.cfg` (`ANSIBLE_CONFIG`), never one from the working folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy_helpers.errors import SuiteError
from deploy_helpers.paths import REPO_ROOT
from deploy_helpers.report.fingerprint import git_state, suite_version
from deploy_helpers.report.redact import is_secret_name

if TYPE_CHECKING:
    from deploy_helpers.fleet.inventory import Unit

PACKAGE = Path(__file__).resolve().parent
PLAYBOOK = PACKAGE / "playbook.yml"
ANSIBLE_CFG = PACKAGE / "ansible.cfg"
PLUGINS = PACKAGE / "plugins"
EVENTS_ENV = "FLEET_EVENTS_FILE"  # where the fleet_events callback writes its JSON lines
PREFLIGHT_FILES = ("suites/test_host.py", "suites/test_weights.py")  # the non-serving stages
STAGES = ("preflight", "serve")


@dataclass(frozen=True)
class Settings:
    """How Ansible fans the fleet out."""

    forks: int = 10
    serial: str = "1"
    max_fail_percentage: int | None = None
    limit: str | None = None
    ssh_config: str | None = None
    catalog: str | None = None


def ansible_bin(name: str) -> str:
    """The path of Ansible's `name` command: beside this Python first, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SuiteError(f"{name} not found: install ansible-core (./setup.sh does)")
    return found


def ansible_env(
    ssh_config: str | None = None, events_file: Path | None = None, control_dir: Path | None = None
) -> dict[str, str]:
    """The environment Ansible runs in: the shipped config, a UTF-8 locale, no secrets.

    Variables of the caller's that look like secrets (API keys, tokens) are left out, and so
    is any ANSIBLE_* setting of the caller's, so the shipped config is what applies.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANSIBLE_") and not is_secret_name(k)
    }
    env.update(
        LC_ALL="C.UTF-8",
        LANG="C.UTF-8",
        ANSIBLE_CONFIG=str(ANSIBLE_CFG),
        ANSIBLE_CALLBACK_PLUGINS=str(PLUGINS),
    )
    if ssh_config:
        env["ANSIBLE_SSH_COMMON_ARGS"] = f"-F {shlex.quote(ssh_config)}"
    if control_dir is not None:
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir)
    if events_file is not None:
        env[EVENTS_ENV] = str(events_file)
    return env


def suite_identity() -> dict[str, Any]:
    """What identifies the suite's code: package version, git commit and uncommitted changes."""
    state = git_state()
    changes = None
    if state["git_dirty"]:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "diff", "HEAD", "--binary"],
            capture_output=True,
            check=False,
        )
        changes = hashlib.sha256(done.stdout).hexdigest()
    return {
        "version": suite_version(),
        "git_commit": state["git_commit"],
        "uncommitted_sha256": changes,
    }


def identity_text(identity: dict[str, Any]) -> str:
    """The one canonical line `fleet version` prints and the playbook compares."""
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))


def target_args(unit: Unit, catalog: str | None) -> list[str]:
    """The suite options that select the unit's target, for both stages."""
    args = ["--model", unit.model, "--hardware", unit.hardware]
    for node in unit.nodes:
        args += ["--node-ip", node]
    if unit.weights_root:
        args += ["--weights-root", unit.weights_root]
    if catalog:
        args += ["--catalog", catalog]
    return [*args, *unit.suite_options]


def stage_args(unit: Unit, stage: str, catalog: str | None) -> list[str]:
    """The unit's Python argv after the interpreter for `stage` (the playbook adds
    `--reports-dir`): the preflight files, or the serving stage's files without them."""
    head = ["-m", "pytest", "-p", "no:cacheprovider"]
    if stage == "preflight":
        return [*head, *PREFLIGHT_FILES, *target_args(unit, catalog)]
    ignored = [arg for path in PREFLIGHT_FILES for arg in ("--ignore", path)]
    return [*head, *unit.suite_args, *ignored, *target_args(unit, catalog)]


def extra_vars(
    fleet_id: str, fleet_dir: Path, units: list[Unit], settings: Settings
) -> dict[str, Any]:
    """The playbook's variables: the fleet's ids and folders, the controller's suite, the
    batching, and each unit's argv per stage."""
    return {
        "fleet_id": fleet_id,
        "fleet_dir": str(fleet_dir),
        "fleet_suite": identity_text(suite_identity()),
        "fleet_suite_root": str(REPO_ROOT),
        "fleet_suite_python": sys.executable,
        "fleet_serial": settings.serial,
        # 100: no batch can exceed it, which is Ansible's behaviour without the keyword
        "fleet_max_fail_percentage": (
            100 if settings.max_fail_percentage is None else settings.max_fail_percentage
        ),
        "fleet_units": {
            u.name: {stage: stage_args(u, stage, settings.catalog) for stage in STAGES}
            for u in units
        },
    }


def playbook_argv(inventory: Path, vars_file: Path, settings: Settings) -> list[str]:
    """`ansible-playbook -i INVENTORY --forks N -e @VARS playbook.yml [--limit L]`."""
    argv = [
        ansible_bin("ansible-playbook"),
        "-i",
        str(inventory),
        "--forks",
        str(settings.forks),
        "-e",
        f"@{vars_file}",
    ]
    if settings.limit:
        argv += ["--limit", settings.limit]
    return [*argv, str(PLAYBOOK)]
