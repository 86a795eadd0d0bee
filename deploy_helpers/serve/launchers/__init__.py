"""The launcher kinds, one module each, and the one place a profile's launcher is chosen."""

from __future__ import annotations

import importlib
import pkgutil

from deploy_helpers.catalog.schema import Hardware
from deploy_helpers.errors import SuiteError
from deploy_helpers.serve.launchers.base import Launcher, Service

__all__ = ["Launcher", "Service", "launcher_for"]


def _load_kinds() -> dict[str, type[Launcher]]:
    """Every launcher module of this package, imported so that its kind registers."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return Launcher.kinds


def launcher_for(hardware: Hardware) -> Launcher:
    """The launcher of `hardware`'s profile; a profile it cannot serve is a one-line error."""
    kinds = _load_kinds()
    kind = kinds.get(hardware.launcher)
    if kind is None:
        raise SuiteError(
            f"{hardware.name}: launcher '{hardware.launcher}' has no module in "
            f"deploy_helpers/serve/launchers/ (known: {', '.join(sorted(kinds))})"
        )
    if hardware.nodes > 1 and not kind.remote:
        raise SuiteError(
            f"{hardware.name}: {hardware.nodes} nodes need a launcher that starts "
            f"each node over ssh, not '{kind.kind}'"
        )
    if kind.uses_containers != (hardware.container is not None):
        wanted = "needs a container: section" if kind.uses_containers else "runs no container"
        raise SuiteError(f"{hardware.name}: launcher '{kind.kind}' {wanted}")
    return kind()
