"""`testbed run -- COMMAND...`: run a command against namespace hosts that exist only meanwhile."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from deploy_helpers.errors import SuiteError
from deploy_helpers.serve.remote import SSH_CONFIG_ENV
from deploy_helpers.signals import wait_passing_interrupt
from deploy_helpers.sim.testbed import NIC, testbed


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `testbed` command group."""
    parser = subparsers.add_parser("testbed", help="multi-node testbed of network namespaces")
    actions = parser.add_subparsers(dest="action", required=True)
    run = actions.add_parser(
        "run", help="create the hosts, run COMMAND with SUITE_SSH_CONFIG set, delete the hosts"
    )
    run.add_argument("--nodes", type=int, default=2)
    run.add_argument("--name", default="llmtb", help="prefix of namespaces and links")
    run.add_argument("--subnet", default="10.241.0", help="first three octets of the /24")
    run.add_argument(
        "--docker",
        action="store_true",
        help="give every node its own Docker engine (its ssh sessions use it)",
    )
    run.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="IMAGE",
        help="with --docker: copy this image of the local engine to every node",
    )
    run.add_argument(
        "--down",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="stop node N's sshd once up (0-based): a host that does not answer",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    run.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the command inside a testbed's lifetime; its exit code is ours."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SuiteError("testbed run needs a command after --")
    if args.image and not args.docker:
        raise SuiteError("testbed run: --image needs --docker")
    images = args.image if args.docker else None
    if any(not 0 <= n < args.nodes for n in args.down):
        raise SuiteError(f"testbed run: --down takes node indexes 0 to {args.nodes - 1}")
    with testbed(
        args.nodes, args.name, args.subnet, NIC, docker_images=images, down=args.down
    ) as bed:
        print(
            f"testbed {bed.name}: nodes {' '.join(bed.addresses)} (nic {bed.nic}), "
            f"ssh config {bed.ssh_config}",
            file=sys.stderr,
            flush=True,
        )
        child = subprocess.Popen(command, env={**os.environ, SSH_CONFIG_ENV: str(bed.ssh_config)})
        return wait_passing_interrupt(child)
