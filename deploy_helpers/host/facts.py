"""What a node is, for the report's fingerprint: chip, NPU and chip counts, driver, firmware,
kernel, OS.

Read through the same testinfra `Node` the host checks use. A fact that cannot be read is
recorded as unreadable: the fingerprint describes, the host checks judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deploy_helpers.host import npu_tools
from deploy_helpers.host.cpu import parse_cpuinfo
from deploy_helpers.host.node import Node

NOT_NPU = "none (CPU target)"


def os_pretty_name(os_release: str) -> str | None:
    """PRETTY_NAME of an /etc/os-release text."""
    value = npu_tools.parse_key_values(os_release, "=").values.get("PRETTY_NAME")
    return value.strip('"') if value else None


def _read(fact: Callable[[], Any]) -> Any:
    try:
        return fact()
    except Exception as exc:  # testinfra backends raise anything; a fact is never fatal
        return f"unreadable ({type(exc).__name__}: {str(exc)[:200]})"


def _cpu(node: Node) -> dict[str, Any]:
    found = _read(lambda: parse_cpuinfo(node.read("/proc/cpuinfo")))
    return found if isinstance(found, dict) else {"cpu": found}


def node_facts(node: Node) -> dict[str, Any]:
    """The node's chip, NPU and chip counts, driver, firmware, kernel and OS, as far as
    readable (a 300I Duo card is one NPU with two chips)."""
    common = {
        "kernel": _read(lambda: node.output("uname", "-r").strip()),
        "os": _read(lambda: os_pretty_name(node.read("/etc/os-release"))),
        **_cpu(node),
    }
    if node.target.hardware.accelerator != "npu":
        return {
            "chip": NOT_NPU,
            "npu_count": 0,
            "chip_count": 0,
            "driver": NOT_NPU,
            "firmware": NOT_NPU,
            **common,
        }
    return {
        "chip": _read(lambda: node.npu_info.chips[0].name),
        "npu_count": _read(lambda: node.npu_info.npu_count),
        "chip_count": _read(lambda: node.npu_info.chip_count),
        "driver": _read(lambda: node.installed_version("driver")),
        "firmware": _read(lambda: node.installed_version("firmware")),
        **common,
    }
