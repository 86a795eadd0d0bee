"""`fleet`: qualify many units with one Ansible run; the suite identity the playbook checks.

fleet run -i INVENTORY [--model M] [--forks N] [--serial N|N%] [--max-fail-percentage P]
fleet version            the suite's identity (the playbook compares it with the controller's)
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from deploy_helpers.errors import SuiteError
from deploy_helpers.paths import REPORTS
from deploy_helpers.serve.remote import SSH_CONFIG_ENV

SERIAL = re.compile(r"^([1-9][0-9]*|([1-9][0-9]?|100)%)$")


def _percentage(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole percentage, 0 to 100")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number, at least 1")
    return int(text)


def _serial(text: str) -> str:
    if not SERIAL.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a number of units (e.g. 1) or a share of them (e.g. 25%)"
        )
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `fleet` command group."""
    parser = subparsers.add_parser("fleet", help="fleet qualification on Ansible")
    actions = parser.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="qualify every unit of an Ansible inventory")
    run.add_argument(
        "-i",
        "--inventory",
        required=True,
        type=Path,
        help="Ansible inventory (INI or YAML): groups set suite_model, suite_hardware",
    )
    run.add_argument(
        "--model",
        default=None,
        help="catalog model to qualify on every unit (instead of suite_model)",
    )
    run.add_argument(
        "--forks", type=_positive, default=10, help="units Ansible works on at once (default 10)"
    )
    run.add_argument(
        "--serial",
        type=_serial,
        default="1",
        help="units served per batch in the serving play (default 1: this "
        "machine's 2 cores serve one vLLM at a time)",
    )
    run.add_argument(
        "--max-fail-percentage",
        type=_percentage,
        default=None,
        help="stop the run when more than this share of a batch fails",
    )
    run.add_argument("--limit", default=None, help="only these units (Ansible host pattern)")
    run.add_argument(
        "--catalog",
        default=None,
        help="catalog folder, on the controller and on every unit (default: the shipped one)",
    )
    run.add_argument(
        "--ssh-config",
        default=os.environ.get(SSH_CONFIG_ENV),
        help="ssh_config Ansible uses (default: $SUITE_SSH_CONFIG, which `testbed run` sets)",
    )
    run.add_argument(
        "--reports-dir",
        type=Path,
        default=REPORTS,
        help="where reports/fleet-<id>/ goes (default: reports/)",
    )
    run.set_defaults(run=run_command)
    version = actions.add_parser("version", help="print this suite's identity as one line")
    version.set_defaults(run=version_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the fleet; the exit code follows the fleet verdict."""
    from deploy_helpers.fleet.command import Settings
    from deploy_helpers.fleet.runner import run_fleet

    if args.ssh_config and not Path(args.ssh_config).is_file():
        raise SuiteError(f"--ssh-config {args.ssh_config}: no such file")

    def absolute(path: str | None) -> str | None:  # units run from their own suite_root
        return str(Path(path).resolve()) if path else None

    settings = Settings(
        forks=args.forks,
        serial=args.serial,
        max_fail_percentage=args.max_fail_percentage,
        limit=args.limit,
        ssh_config=absolute(args.ssh_config),
        catalog=absolute(args.catalog),
    )
    return run_fleet(args.inventory, settings, args.model, args.reports_dir)


def version_command(args: argparse.Namespace) -> int:
    """Print the suite's version, commit and uncommitted changes as canonical JSON."""
    from deploy_helpers.fleet.command import identity_text, suite_identity

    print(identity_text(suite_identity()))
    return 0
