"""A fleet run from start to verdict: validate the inventory, run the playbook, gather every
unit's results, write the fleet report, print the units and the verdict."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from deploy_helpers.fleet import command, events, gather, report
from deploy_helpers.fleet.inventory import read_units
from deploy_helpers.report.facts import now_iso
from deploy_helpers.report.redact import scrub_tree, secrets_in_env
from deploy_helpers.signals import sigterm_raises_interrupt

LATEST = "fleet-latest"


def new_fleet_id() -> str:
    """A sortable, unique-enough id: UTC time to the second plus the pid."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"


def _tee(argv: list[str], env: dict[str, str], log: Path) -> int:
    """Run `argv`, its output both printed and written to `log`; Ctrl-C or SIGTERM is passed
    on to it (Ansible then stops its hosts' tasks) and waited for."""
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                out.write(line)
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise


def close_masters(control_dir: Path) -> None:
    """End the ssh connection masters Ansible left for reuse (ControlPersist)."""
    for socket in control_dir.iterdir():
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "fleet"],
            capture_output=True,
            timeout=15,
            check=False,
        )


def _ansible_version() -> str:
    try:
        return importlib.metadata.version("ansible-core")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _point_latest(reports: Path, fleet_dir: Path) -> None:
    tmp = reports / f".{LATEST}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(fleet_dir.name)
    os.replace(tmp, reports / LATEST)


def print_outcome(record: dict[str, Any], fleet_dir: Path) -> None:
    """The units, the timing and the verdict, as the last lines of the run."""
    print(f"\n== fleet {record['fleet_id']}: {len(record['units'])} units")
    for unit in record["units"]:
        cause = f" ({unit['failure']}: {unit['reasons'][0]})" if unit["failure"] else ""
        print(f"  {unit['name']:<16} {unit['target']:<32} {unit['verdict']}{cause}")
    for row in record["drift"]:
        print(f"  drift {row['profile']} {row['field']}: differs on {', '.join(row['differing'])}")
    t = record["timing"]
    stages = ", ".join(
        f"{name} {b['wall_s']} s wall / {b['unit_sum_s']} s of unit time"
        for name, b in t["stages"].items()
    )
    print(
        f"  time: {t['wall_s']} s wall, {t['unit_sum_s']} s summed over units "
        f"(speed-up {t['speedup']}); {stages}"
    )
    print(f"fleet verdict: {record['verdict']}")
    for reason in record["verdict_reasons"]:
        print(f"  {reason}")
    print(f"report: {fleet_dir / report.HTML}")


def run_fleet(
    inventory: Path,
    settings: command.Settings,
    model: str | None,
    reports: Path,
    fleet_id: str | None = None,
) -> int:
    """Qualify every unit of `inventory`; write reports/fleet-<id>/; the verdict's exit code
    (0 PASS or PASS WITH WAIVERS, 1 FAIL, 130 interrupted)."""
    units = read_units(inventory, settings.catalog, model, settings.limit)
    fleet_id = fleet_id or new_fleet_id()
    fleet_dir = (reports / f"fleet-{fleet_id}").resolve()
    fleet_dir.mkdir(parents=True)
    _point_latest(reports, fleet_dir)
    vars_file = fleet_dir / "fleet-vars.json"
    vars_file.write_text(
        json.dumps(command.extra_vars(fleet_id, fleet_dir, units, settings), indent=1)
    )
    argv = command.playbook_argv(inventory.resolve(), vars_file, settings)
    print(
        f"fleet {fleet_id}: {len(units)} units ({', '.join(u.name for u in units)}); "
        f"forks {settings.forks}, serial {settings.serial}, max_fail_percentage "
        f"{settings.max_fail_percentage if settings.max_fail_percentage is not None else '-'}",
        flush=True,
    )
    started, clock = now_iso(), time.monotonic()
    interrupted = False
    with sigterm_raises_interrupt(), tempfile.TemporaryDirectory(prefix="fleet-ssh-") as control:
        env = command.ansible_env(settings.ssh_config, fleet_dir / "events.jsonl", Path(control))
        try:
            rc = _tee(argv, env, fleet_dir / "ansible.log")
        except KeyboardInterrupt:
            rc, interrupted = 130, True
        finally:
            close_masters(Path(control))
    wall = time.monotonic() - clock
    seen = events.read(fleet_dir / "events.jsonl")
    results = gather.gather(fleet_dir, units, seen, settings.max_fail_percentage)
    masked = scrub_tree(fleet_dir, secrets_in_env())
    if masked:
        seen.problems.append(f"secrets were masked in: {', '.join(masked)}")
    if interrupted:
        seen.problems.append("the fleet run was interrupted")
    context = {
        "inventory": str(inventory),
        "command": argv,
        "settings": {
            "forks": settings.forks,
            "serial": settings.serial,
            "max_fail_percentage": settings.max_fail_percentage,
            "limit": settings.limit,
            "model": model,
            "catalog": settings.catalog,
        },
        "suite": command.suite_identity(),
        "ansible": {"exit_code": rc, "version": _ansible_version()},
        "times": {"started": started, "finished": now_iso(), "wall_s": round(wall, 1)},
    }
    record = report.write(
        fleet_dir, report.assemble(fleet_id=fleet_id, results=results, events=seen, context=context)
    )
    print_outcome(record, fleet_dir)
    return 130 if interrupted else record["exit_code"]
