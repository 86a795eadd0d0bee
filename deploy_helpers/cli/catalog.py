"""`catalog`: print the validated catalog as JSON or as a table."""

from __future__ import annotations

import argparse
import json

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.table import models_table


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `catalog` command."""
    parser = subparsers.add_parser("catalog", help="print the validated catalog")
    parser.add_argument("--catalog", default=None, help="catalog folder (default: shipped)")
    parser.add_argument("--json", action="store_true", help="the whole catalog as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load, validate and print."""
    catalog = load_catalog(args.catalog)
    if args.json:
        print(json.dumps(catalog.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print(models_table(catalog))
    return 0
