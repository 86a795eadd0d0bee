"""`twin run --profile P [--scenario S] -- COMMAND...`: a command on simulated Atlas hosts.

The twin hosts exist only while COMMAND runs (on node 0, as a user logged in there would
run it); `twin scenarios` lists the scenario switches.
"""

from __future__ import annotations

import argparse
import sys

from deploy_helpers.errors import SuiteError
from deploy_helpers.signals import wait_passing_interrupt
from deploy_helpers.sim.twin.hosts import run_on_head, twin
from deploy_helpers.sim.twin.layout import TWIN_PROFILES
from deploy_helpers.sim.twin.scenarios import SCENARIOS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `twin` command group."""
    parser = subparsers.add_parser("twin", help="simulated Atlas hosts (the Ascend twin)")
    actions = parser.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="make the twin hosts, run COMMAND on node 0, delete them")
    run.add_argument("--profile", default="atlas-300i-duo", choices=sorted(TWIN_PROFILES))
    run.add_argument("--scenario", default="healthy", help="fault to simulate (twin scenarios)")
    run.add_argument("--name", default="asct", help="prefix of namespaces and links")
    run.add_argument("--subnet", default="10.242.0", help="first three octets of the /24")
    run.add_argument(
        "--without-image",
        action="store_true",
        help="leave the pulled image out (faster, when the command stops before "
        "the container stage)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    run.set_defaults(run=run_command)
    listing = actions.add_parser("scenarios", help="list the scenario switches")
    listing.set_defaults(run=list_scenarios)


def list_scenarios(args: argparse.Namespace) -> int:
    """Print each scenario: name, profiles, what it changes, where the suite must fail."""
    for s in SCENARIOS.values():
        where = f" -> fails at the {s.stage} stage ({s.cause})" if s.stage else ""
        print(f"{s.name:<14} {', '.join(s.profiles):<26} {s.description}{where}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Run the command on the twin's node 0; its exit code is ours."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SuiteError("twin run needs a command after --")
    with twin(
        args.profile, args.scenario, args.name, args.subnet, with_image=not args.without_image
    ) as hosts:
        print(
            f"ascend twin (SIMULATED) {hosts.profile}, scenario {hosts.scenario}: nodes "
            f"{' '.join(hosts.addresses)}",
            file=sys.stderr,
            flush=True,
        )
        child = run_on_head(hosts, command)
        return wait_passing_interrupt(child)
