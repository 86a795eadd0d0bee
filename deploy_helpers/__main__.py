"""`python -m deploy_helpers COMMAND ...`: the library's command line."""

from __future__ import annotations

import argparse
import importlib
import sys

from deploy_helpers.errors import SuiteError

# Each module registers its own sub-commands with `register(subparsers)`.
COMMAND_MODULES = [
    "deploy_helpers.cli.catalog",
    "deploy_helpers.cli.embedded",
    "deploy_helpers.cli.weights",
    "deploy_helpers.cli.loadgen",
    "deploy_helpers.cli.report",
    "deploy_helpers.cli.plan",
    "deploy_helpers.cli.testbed",
    "deploy_helpers.cli.twin",
    "deploy_helpers.cli.fleet",
]


def build_parser() -> argparse.ArgumentParser:
    """The parser with every module's sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m deploy_helpers")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a SuiteError becomes one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
