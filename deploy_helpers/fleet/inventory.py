"""An Ansible inventory read into fleet units and validated against the catalog.

Ansible itself parses the inventory (`ansible-inventory --list`, INI or YAML alike); this
module reads the merged host variables. Each inventory host is one unit:

- `suite_hardware` (a catalog hardware profile) and `suite_model` (a catalog model; `--model`
  overrides it) say what the unit qualifies, usually set once on its group;
- a multi-node unit is its head node's host, with `suite_nodes`: the node addresses in rank
  order, head first (as many as the profile's `nodes`); its suite runs once, from the head;
- optional `suite_args` (the serving stage's pytest files and options, default `suites/`),
  `suite_options` (options for both stages, e.g. `--nic`), `suite_weights_root`.

Anything wrong is a one-line `SuiteError` naming the unit, before anything runs.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.schema import Catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.errors import SuiteError
from deploy_helpers.fleet.command import PREFLIGHT_FILES, ansible_bin, ansible_env

UNIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # names report folders
DEFAULT_SUITE_ARGS = ("suites/",)
# the host vars read here (the playbook reads suite_root, suite_python, ... itself)
CONSUMED = (
    "suite_model",
    "suite_hardware",
    "suite_nodes",
    "suite_args",
    "suite_options",
    "suite_weights_root",
)


@dataclass(frozen=True)
class Unit:
    """One unit of the fleet: a host, or a multi-node deployment run from its head host."""

    name: str
    group: str
    model: str
    hardware: str
    address: str
    nodes: list[str] = field(default_factory=list)
    weights_root: str | None = None
    suite_args: list[str] = field(default_factory=lambda: list(DEFAULT_SUITE_ARGS))
    suite_options: list[str] = field(default_factory=list)

    @property
    def target_id(self) -> str:
        """The suite's id of what this unit qualifies (model@hardware)."""
        return f"{self.model}@{self.hardware}"

    def node_addresses(self) -> list[str]:
        """Every node of the unit, head first."""
        return self.nodes or [self.address]


def list_inventory(inventory: Path, limit: str | None = None) -> dict[str, Any]:
    """`ansible-inventory --list` of `inventory` as JSON (a parse failure is one line)."""
    if not inventory.exists():
        raise SuiteError(f"inventory {inventory}: no such file or folder")
    argv = [ansible_bin("ansible-inventory"), "-i", str(inventory), "--list"]
    if limit:
        argv += ["--limit", limit]
    done = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), check=False)
    if done.returncode != 0:
        raise SuiteError(f"inventory {inventory}: Ansible cannot read it: {_cause(done.stderr)}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise SuiteError(f"inventory {inventory}: ansible-inventory printed no JSON") from None


def _cause(stderr: str) -> str:
    """The most telling line of an Ansible error output."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "Failed to parse" in line and ":" in line and "plugin" not in line:
            return line.removeprefix("[WARNING]: ").removeprefix("ERROR: ")
    for line in lines:
        if line.startswith(("ERROR", "[ERROR]")):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else "no output"


def _plain(where: str, hostvars: dict[str, Any]) -> None:
    """The fleet reads its vars before Ansible runs, so they must not be Jinja templates."""
    for key in CONSUMED:
        value = hostvars.get(key)
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and ("{{" in v or "{%" in v) for v in items):
            raise SuiteError(
                f"{where}: {key} is a template ({value!r}): the fleet reads it "
                "before Ansible runs, so give a plain value"
            )


def _strings(unit: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SuiteError(f"unit {unit}: {key} must be a list of strings (got {value!r})")
    return value


def _unit(
    name: str, group: str, hostvars: dict[str, Any], model: str | None, catalog: Catalog
) -> Unit:
    where = f"unit {name} (group {group})"
    if not UNIT_NAME.match(name):
        raise SuiteError(
            f"{where}: inventory host names name report folders: use letters, "
            "digits, '.', '_' and '-' only"
        )
    _plain(where, hostvars)
    hardware = hostvars.get("suite_hardware")
    model = model or hostvars.get("suite_model")
    if not hardware:
        raise SuiteError(
            f"{where}: no suite_hardware: set it on its group to a catalog "
            f"hardware profile ({', '.join(sorted(catalog.hardware))})"
        )
    if not model:
        raise SuiteError(f"{where}: no suite_model: set it on its group or pass --model")
    try:
        target = resolve_target(catalog, str(model), str(hardware))
    except SuiteError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    if target.model.status != "supported":
        raise SuiteError(
            f"{where}: model '{model}' is {target.model.status} upstream, "
            "it cannot be qualified yet"
        )
    nodes = _strings(name, "suite_nodes", hostvars.get("suite_nodes", []))
    want = target.hardware.nodes
    if want > 1 and len(nodes) != want:
        raise SuiteError(
            f"{where}: {hardware} runs on {want} nodes: set suite_nodes to their "
            f"{want} addresses in rank order, head first (got {len(nodes)})"
        )
    if want == 1 and len(nodes) > 1:
        raise SuiteError(
            f"{where}: {hardware} is a one-node profile but suite_nodes lists {len(nodes)} nodes"
        )
    suite_args = _strings(name, "suite_args", hostvars.get("suite_args", list(DEFAULT_SUITE_ARGS)))
    for arg in suite_args:
        if arg in PREFLIGHT_FILES:
            raise SuiteError(
                f"{where}: suite_args names {arg}, which the preflight stage "
                "runs on every unit already: leave it out"
            )
    weights_root = hostvars.get("suite_weights_root")
    if weights_root is not None and not isinstance(weights_root, str):
        raise SuiteError(f"{where}: suite_weights_root must be a path (got {weights_root!r})")
    return Unit(
        name=name,
        group=group,
        model=str(model),
        hardware=str(hardware),
        address=str(hostvars.get("ansible_host", name)),
        nodes=nodes if want > 1 else [],
        weights_root=weights_root,
        suite_args=suite_args,
        suite_options=_strings(name, "suite_options", hostvars.get("suite_options", [])),
    )


def _hosts_in_order(listing: dict[str, Any]) -> dict[str, str]:
    """Each host, in inventory order (`all`'s children depth first, as Ansible lists them),
    with the group it was found in."""
    found: dict[str, str] = {}

    def walk(group: str) -> None:
        entry = listing.get(group, {})
        for host in entry.get("hosts", []):
            found.setdefault(host, group)
        for child in entry.get("children", []):
            walk(child)

    walk("all")
    return found


def units_of(listing: dict[str, Any], catalog: Catalog, model: str | None = None) -> list[Unit]:
    """The validated units of an `ansible-inventory --list` output, in inventory order."""
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    hosts = _hosts_in_order(listing)
    if not hosts:
        raise SuiteError("the inventory lists no hosts (check the file and any --limit)")
    units = [
        _unit(host, group, hostvars.get(host, {}), model, catalog) for host, group in hosts.items()
    ]
    owner: dict[str, str] = {}
    for unit in units:
        for address in unit.node_addresses():
            if address in owner:
                raise SuiteError(
                    f"node {address} belongs to two units ({owner[address]} and "
                    f"{unit.name}): a node can serve one unit at a time"
                )
            owner[address] = unit.name
    return units


def read_units(
    inventory: Path,
    catalog_root: str | None = None,
    model: str | None = None,
    limit: str | None = None,
) -> list[Unit]:
    """The units of `inventory` (optionally `--limit`ed), validated against the catalog."""
    return units_of(list_inventory(inventory, limit), load_catalog(catalog_root), model)
