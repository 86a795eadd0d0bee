"""Parsers for the Ascend host tools: `npu-smi info`, its board view, version.info, hccn_tool.

They accept the layouts seen on real machines (see deploy_helpers/sim/npu/recordings/):
300I Duo tables with two chips per NPU sharing one Bus-Id, memory cells written
"35552/ 44278", tables cut short by whoever pasted them, the A2/A3 HBM column, a "-"
power reading, board output indented by 8 spaces, and `key=value` version files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEALTH_STATES = ("OK", "Warning", "Alarm", "Critical", "UNKNOWN")

# first row of a chip: | NPU  Name | Health | Power Temp Hugepages used / total |
_CHIP_ROW = re.compile(
    r"^\|\s*(?P<npu>\d+)\s+(?P<name>\S+)\s*\|\s*(?P<health>" + "|".join(HEALTH_STATES) + r")\s*"
    r"\|\s*(?P<power>\S+)\s+(?P<temp>\S+)\s+(?P<huge_used>\d+)\s*/\s*(?P<huge_total>\d+)\s*\|"
)
# second row: | Chip [Device|Phy-ID] | Bus-Id | AICore Memory used / total [HBM used / total] |
_BUS_ROW = re.compile(
    r"^\|\s*(?P<chip>\d+)(?:\s+(?P<device>\d+))?\s*\|\s*(?P<bus>[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:"
    r"[0-9A-Fa-f]{2}\.[0-7])\s*\|\s*(?P<aicore>\S+)\s+(?P<mem_used>\d+)\s*/\s*(?P<mem_total>\d+)"
    r"(?:\s+(?P<hbm_used>\d+)\s*/\s*(?P<hbm_total>\d+))?\s*\|"
)
_HEADER = re.compile(r"npu-smi\s+(?P<smi>\S+)\s+Version:\s*(?P<version>\S+)")


@dataclass(frozen=True)
class Chip:
    """One chip row pair of `npu-smi info`."""

    npu_id: int
    name: str
    health: str
    chip: int
    device: int | None
    bus_id: str
    power_w: float | None
    temp_c: int | None
    memory_used_mb: int
    memory_total_mb: int
    hbm_used_mb: int | None = None
    hbm_total_mb: int | None = None


@dataclass(frozen=True)
class NpuSmiInfo:
    """The parsed `npu-smi info` table: tool version and every chip, in table order."""

    version: str | None
    chips: list[Chip]

    @property
    def npu_ids(self) -> list[int]:
        """The distinct NPU ids (cards), in table order."""
        return list(dict.fromkeys(c.npu_id for c in self.chips))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "NA", "-"
        return None


def parse_npu_smi_info(text: str) -> NpuSmiInfo:
    """Parse `npu-smi info`; rows after the process-table header are ignored."""
    header = _HEADER.search(text)
    chips: list[Chip] = []
    pending: re.Match[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if "Process id" in line:
            break
        if match := _CHIP_ROW.match(line):
            pending = match
        elif (match := _BUS_ROW.match(line)) and pending is not None:
            temp = _number(pending["temp"])
            chips.append(Chip(
                npu_id=int(pending["npu"]),
                name=pending["name"],
                health=pending["health"],
                chip=int(match["chip"]),
                device=int(match["device"]) if match["device"] is not None else None,
                bus_id=match["bus"],
                power_w=_number(pending["power"]),
                temp_c=int(temp) if temp is not None else None,
                memory_used_mb=int(match["mem_used"]),
                memory_total_mb=int(match["mem_total"]),
                hbm_used_mb=int(match["hbm_used"]) if match["hbm_used"] else None,
                hbm_total_mb=int(match["hbm_total"]) if match["hbm_total"] else None,
            ))
            pending = None
    return NpuSmiInfo(header["version"] if header else None, chips)


def parse_key_values(text: str, separator: str = ":") -> dict[str, str]:
    """`Key : Value` (board view, hccn_tool) or `key=value` (version.info) lines, any indent."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(separator)
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs


def parse_board(text: str) -> dict[str, str]:
    """`npu-smi info -t board -i N [-c C]`: Software/Firmware Version, Chip Name, ..."""
    return parse_key_values(text, ":")


def parse_version_info(text: str) -> dict[str, str]:
    """`/usr/local/Ascend/{driver,firmware}/version.info`: `Version=...` and friends."""
    return parse_key_values(text, "=")


def parse_hccn_status(text: str, key: str) -> str | None:
    """The value of `key` in hccn_tool output, e.g. `link status` -> `UP`."""
    return parse_key_values(text).get(key)


def parse_hccn_ip(text: str) -> list[dict[str, str]]:
    """`hccn_tool -i N -ip -g` (or a loop over N): one {ipaddr, netmask} per address."""
    entries: list[dict[str, str]] = []
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if not sep:
            continue
        if key == "ipaddr":
            entries.append({"ipaddr": value.strip()})
        elif entries:
            entries[-1][key] = value.strip()
    return entries


_TLS_FIELD = re.compile(r"([A-Za-z][A-Za-z _]*?)\s*\[([^\]]*)\]")


def parse_hccn_tls(text: str) -> dict[str, str]:
    """`hccn_tool -i N -tls -g`: its `name[value]` settings, without the device id.

    Output without bracketed settings is kept whole (minus `dev_id`) under "raw", so
    that two nodes can still be compared.
    """
    fields = {name.strip(): value for name, value in _TLS_FIELD.findall(text)}
    if fields:
        return fields
    raw = re.sub(r"dev_id\s*:\s*\d+\s*,?", "", text).strip()
    return {"raw": " ".join(raw.split())}
