"""Load the catalog directory (hardware/, families/, models/) into validated records.

An entry may `extends` another entry of its folder. A model is laid over its family's entry
(families/<family>.yaml: chat features, golden prompts, known issues), and each of its
deployments over the `deployment_defaults` of its hardware profile, so what a family or a
profile shares is written once; known issues add up (profile, family, deployment).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from deploy_helpers.catalog.schema import Catalog, Family, Hardware, Model
from deploy_helpers.errors import SuiteError
from deploy_helpers.paths import CATALOG

DEFAULT_CATALOG = CATALOG


class CatalogError(SuiteError):
    """The catalog is malformed; the message names the file, the key and what was expected."""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        raise CatalogError(
            f"{path}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: top level: expected a mapping, got {type(data).__name__}")
    return data


def _describe(exc: ValidationError, path: Path) -> CatalogError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "top level"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return CatalogError(f"{path}: {key}: {err['msg']}{more}")


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`base` with `override` laid over it: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve(
    name: str, entries: dict[str, tuple[Path, dict[str, Any]]], chain: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Entry `name` with the entry it `extends` (recursively) merged under it."""
    path, data = entries[name]
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str) or parent not in entries:
        raise CatalogError(
            f"{path}: extends: expected the name of another entry in "
            f"{path.parent.name}/, got {parent!r}"
        )
    if parent in (*chain, name):
        raise CatalogError(f"{path}: extends: cycle {' -> '.join((*chain, name, parent))}")
    if "name" not in data:
        raise CatalogError(f"{path}: name: an entry that extends '{parent}' needs its own name")
    own = {key: value for key, value in data.items() if key != "extends"}
    return _merged(_resolve(parent, entries, (*chain, name)), own)


def _read_entries(folder: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every YAML file of `folder` by its `name` (or its file stem when it names none)."""
    entries: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = _read_yaml(path)
        name = data.get("name")
        key = name if isinstance(name, str) else path.stem
        if key in entries:
            raise CatalogError(f"{path}: name: '{key}' is defined twice")
        entries[key] = (path, data)
    return entries


Prepare = Callable[[dict[str, Any]], dict[str, Any]]


def _load_records(
    folder: Path,
    kind: type[Model] | type[Hardware] | type[Family],
    prepare: Prepare = lambda data: data,
) -> dict[str, Any]:
    if not folder.is_dir():
        raise CatalogError(f"{folder}: missing folder: a catalog needs models/ and hardware/")
    entries = _read_entries(folder)
    records: dict[str, Any] = {}

    def validate(name: str) -> None:
        if name in records:
            return
        path, data = entries[name]
        merged = _resolve(name, entries)  # raises on an unknown parent or a cycle
        if "extends" in data:
            validate(data["extends"])  # a mistake in the parent is named in the parent's file
        try:
            record = kind.model_validate(prepare(merged))
        except ValidationError as exc:
            raise _describe(exc, path) from None
        records[record.name] = record

    for name in entries:
        validate(name)
    return {name: records[name] for name in entries}  # in file order, parents or not


def _set_keys(record: Family | Any) -> dict[str, Any]:
    """The keys a validated record's file set (defaults left out), as plain data."""
    return record.model_dump(exclude_unset=True)


def _with_defaults(
    data: dict[str, Any], families: dict[str, Family], hardware: dict[str, Hardware]
) -> dict[str, Any]:
    """A model's data laid over its family's, each deployment over its profile's defaults."""
    family = families.get(data.get("family", ""))
    shared = _set_keys(family) if family else {}
    family_issues = shared.pop("known_issues", [])
    for key in ("name", "description", "notes"):
        shared.pop(key, None)
    model = _merged(shared, data)
    deployments = []
    for dep in model.get("deployments", []):
        profile = hardware.get(dep.get("hardware")) if isinstance(dep, dict) else None
        if profile is None:
            deployments.append(dep)  # the catalog check names the unknown profile
            continue
        defaults = _set_keys(profile.deployment_defaults)
        issues = [*defaults.pop("known_issues", []), *family_issues, *dep.get("known_issues", [])]
        deployments.append({**_merged(defaults, dep), "known_issues": issues})
    return {**model, "deployments": deployments}


def load_catalog(root: Path | str | None = None) -> Catalog:
    """Load and validate the catalog at `root` (default: the one shipped with the suite)."""
    root = Path(root) if root else DEFAULT_CATALOG
    if not root.exists():
        raise CatalogError(f"{root}: catalog folder does not exist")
    hardware = _load_records(root / "hardware", Hardware)
    families = _load_records(root / "families", Family) if (root / "families").is_dir() else {}
    models = _load_records(
        root / "models", Model, lambda data: _with_defaults(data, families, hardware)
    )
    try:
        return Catalog(models=models, hardware=hardware, families=families)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CatalogError(f"{root}: {err['msg'].removeprefix('Value error, ')}") from None


def catalog_hash(root: Path | str | None = None) -> str:
    """SHA-256 over every catalog file (name and content), for the report fingerprint."""
    root = Path(root) if root else DEFAULT_CATALOG
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.yaml")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
