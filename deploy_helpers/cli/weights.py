"""`weights manifest | verify | set-dtype`: checksum manifests and config fixes for a weights dir.

Exit codes: 0 verified, 1 a check found problems (each printed, file first), 2 bad input
(missing directory or manifest, unknown model) as one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.errors import SuiteError
from deploy_helpers.weights import checks as weights_checks
from deploy_helpers.weights import config as weights_config
from deploy_helpers.weights import manifest as weights
from deploy_helpers.weights.hashing import ALGORITHMS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `weights` command group."""
    parser = subparsers.add_parser("weights", help="checksum manifests, verification, dtype fix")
    actions = parser.add_subparsers(dest="action", required=True)

    manifest = actions.add_parser("manifest", help="write DIR's checksum manifest")
    manifest.add_argument("dir", type=Path)
    manifest.add_argument("--algorithm", choices=ALGORITHMS, default="sha256")
    manifest.add_argument(
        "--out", type=Path, default=None, help=f"default: DIR/{weights.MANIFEST_NAME}"
    )
    _progress_flag(manifest)
    manifest.set_defaults(run=run_manifest)

    verify = actions.add_parser("verify", help="verify DIR against a manifest")
    verify.add_argument("dir", type=Path)
    verify.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help=f"JSON manifest or sha256sum/md5sum list (default: DIR/{weights.MANIFEST_NAME})",
    )
    verify.add_argument("--rehash", action="store_true", help="ignore the verified-cache")
    verify.add_argument(
        "--model",
        default=None,
        help="also run the catalog model's config checks (dtype, quantization, chat template)",
    )
    verify.add_argument("--hardware", default=None, help="with --model: the hardware profile")
    _progress_flag(verify)
    verify.set_defaults(run=run_verify)

    set_dtype = actions.add_parser("set-dtype", help="set config.json's dtype (e.g. float16)")
    set_dtype.add_argument("dir", type=Path)
    set_dtype.add_argument("dtype")
    set_dtype.add_argument(
        "--update-manifest",
        action="store_true",
        help="re-record config.json in the manifest after the change",
    )
    set_dtype.add_argument(
        "--manifest", type=Path, default=None, help=f"default: DIR/{weights.MANIFEST_NAME}"
    )
    set_dtype.set_defaults(run=run_set_dtype)


def _progress_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )


def run_manifest(args: argparse.Namespace) -> int:
    """Hash every file of DIR and write the manifest."""
    dest = weights.write_manifest(args.dir, args.algorithm, args.out, progress=args.progress)
    print(f"manifest written: {dest}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Verify checksums (and, with --model, every weights check of that target); the verdict
    names the manifest's origin (self-made or published)."""
    manifest = args.manifest or args.dir / weights.MANIFEST_NAME
    origin = weights.load_manifest(manifest)["origin"] if args.dir.is_dir() else ""
    if args.model:
        target = resolve_target(load_catalog(), args.model, args.hardware)
        settings = weights_checks.Settings(
            manifest=args.manifest, rehash=args.rehash, progress=args.progress
        )
        failed = [
            r.message()
            for r in weights_checks.verify_target(target, args.dir, settings)
            if not r.ok
        ]
        checks = ", ".join(weights_checks.checks_for(target))
        return _verdict(failed, f"verified: {args.dir} ({checks}; manifest {origin})")
    problems = weights.verify(args.dir, args.manifest, rehash=args.rehash, progress=args.progress)
    return _verdict(
        [str(args.dir / problem) for problem in problems],
        f"verified: {args.dir} (manifest {origin})",
    )


def _verdict(failures: list[str], verified: str) -> int:
    """Print each failure (exit code 1), or the `verified` line when there is none (0)."""
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures:
        return 1
    print(verified)
    return 0


def run_set_dtype(args: argparse.Namespace) -> int:
    """Set the dtype, report every change, and keep the manifest honest."""
    if not args.dir.is_dir():
        raise SuiteError(f"{args.dir}: weights directory not found")
    try:
        changes = weights_config.set_dtype(args.dir, args.dtype)
    except ValueError as exc:
        raise SuiteError(f"{args.dir}/{exc}") from None
    if not changes:
        print(f"{args.dir}/{weights_config.CONFIG}: dtype already {args.dtype}")
        return 0
    for change in changes:
        print(f"changed {args.dir}/{change}")
    manifest = args.manifest or args.dir / weights.MANIFEST_NAME
    if args.update_manifest:
        weights.update_manifest_entry(manifest, args.dir, weights_config.CONFIG)
        print(f"manifest updated: {manifest} ({weights_config.CONFIG})")
    elif manifest.is_file():
        print(
            f"note: {manifest} still records the old {weights_config.CONFIG}; verification "
            "will fail on it until you rerun with --update-manifest",
            file=sys.stderr,
        )
    return 0
