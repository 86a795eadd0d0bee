"""A model on a hardware profile, the unit the suites are parametrized by, and its lookup."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from deploy_helpers.catalog.schema import Catalog, Deployment, Hardware, Model
from deploy_helpers.errors import SuiteError


@dataclass(frozen=True)
class Target:
    """A model on a hardware profile: the unit the suites are parametrized by."""

    model: Model
    hardware: Hardware
    deployment: Deployment

    @property
    def id(self) -> str:
        """Short id used in test ids and report names."""
        return f"{self.model.name}@{self.hardware.name}"


def closest(name: str, names: list[str]) -> str:
    """ " (did you mean 'X'?)" for the known name closest to `name` (difflib), or ""."""
    found = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean '{found[0]}'?)" if found else ""


def resolve_target(catalog: Catalog, model: str, hardware: str | None = None) -> Target:
    """Find `model` on `hardware` (default: its first deployment) or raise a one-line error
    naming the closest known name."""
    if model not in catalog.models:
        raise SuiteError(
            f"unknown model '{model}'{closest(model, list(catalog.models))}; "
            f"valid models: {', '.join(sorted(catalog.models))}"
        )
    entry = catalog.models[model]
    if hardware is not None and hardware not in catalog.hardware:
        raise SuiteError(
            f"unknown hardware '{hardware}'"
            f"{closest(hardware, list(catalog.hardware))}; valid profiles: "
            f"{', '.join(sorted(catalog.hardware))}"
        )
    for dep in entry.deployments:
        if hardware is None or dep.hardware == hardware:
            return Target(entry, catalog.hardware[dep.hardware], dep)
    offered = ", ".join(d.hardware for d in entry.deployments) or "none"
    raise SuiteError(f"model '{model}' has no deployment on '{hardware}' (it has: {offered})")
