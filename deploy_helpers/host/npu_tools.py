"""Parsers for the Ascend host tools' `Key : Value` outputs: board view, version.info, hccn_tool.

Each parser returns only what it read whole, or raises `ParseError` with one line saying
what is missing. A line is read whole when its newline follows it: a last line without
one may have been cut (a pipe closed early, a killed tool) and is not read. A key asked
for and absent, a value that is not a version, a board view of another NPU, all raise.
Real layouts these accept (deploy_helpers/sim/npu/recordings/): board output indented by
8 spaces or a tab, `key=value` version files, hccn_tool's `key: value` and its
`name[value]` TLS settings. The `npu-smi info` table is parsed in `npu_table.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deploy_helpers.errors import SuiteError

# 24.1.rc3, 7.5.0.1.129, 25.0.rc1.1, 26.1.0.b061, 24.1.RC2, 21.0.4.B030 (not "x.x.x")
VERSION = re.compile(r"^\d+(\.[0-9A-Za-z]+)+$")
_TLS_FIELD = re.compile(r"([A-Za-z][A-Za-z _]*?)\s*\[([^\]]*)\]")
_TLS_SETTINGS = re.compile(r"^dev_id\s*:\s*(?P<dev>\d+)\s*,\s*(?P<rest>tls switch\[.*)$")


class ParseError(SuiteError):
    """A host tool's output the suite cannot fully read; the message says what is missing."""


def whole_lines(text: str) -> list[str]:
    """The lines of `text` that end with a newline (a last line without one may be cut)."""
    lines = text.split("\n")
    return lines[:-1]  # the part after the last newline is '' or a possibly cut line


@dataclass(frozen=True)
class KeyValues:
    """The `key : value` (or `key=value`) lines of one tool output, each read whole."""

    source: str  # how messages name the output, e.g. "`npu-smi info -t board -i 0`"
    values: dict[str, str]

    def require(self, key: str) -> str:
        """The value of `key`; ParseError when the output has no such line or it is empty."""
        value = self.values.get(key)
        if not value:
            raise ParseError(
                f"{self.source}: no '{key}' line"
                if value is None
                else f"{self.source}: '{key}' is empty"
            )
        return value

    def version(self, key: str) -> str:
        """The value of `key`, which must read as a version (24.1.rc3, 7.5.0.1.129 ...)."""
        value = self.require(key)
        if not VERSION.match(value):
            raise ParseError(f"{self.source}: '{key}' is '{value}', not a version")
        return value


def parse_key_values(text: str, separator: str = ":", source: str = "output") -> KeyValues:
    """`Key : Value` (board view, hccn_tool) or `key=value` (version.info) lines, any indent.

    A key given twice with different values is an error: two outputs were mixed.
    """
    values: dict[str, str] = {}
    for line in whole_lines(text):
        key, sep, value = line.partition(separator)
        key, value = key.strip(), value.strip()
        if not sep or not key:
            continue
        if key in values and values[key] != value:
            raise ParseError(f"{source}: '{key}' given twice ({values[key]!r}, {value!r})")
        values[key] = value
    return KeyValues(source, values)


def parse_board(text: str, npu_id: int, chip: int | None = None) -> KeyValues:
    """`npu-smi info -t board -i NPU [-c CHIP]`: Software/Firmware Version, Chip Name, ...

    The output must name the NPU (and chip) it was asked about.
    """
    command = f"`npu-smi info -t board -i {npu_id}" + (f" -c {chip}`" if chip is not None else "`")
    board = parse_key_values(text, ":", command)
    if board.require("NPU ID") != str(npu_id):
        raise ParseError(f"{command}: describes NPU {board.values['NPU ID']}")
    if chip is not None and board.require("Chip ID") != str(chip):
        raise ParseError(f"{command}: describes chip {board.values['Chip ID']}")
    return board


def parse_version_info(text: str, path: str) -> KeyValues:
    """`/usr/local/Ascend/{driver,firmware}/version.info`: `Version=...` and friends."""
    return parse_key_values(text, "=", path)


def parse_hccn_status(text: str, key: str, source: str = "hccn_tool") -> str:
    """The value of `key` in hccn_tool output, e.g. `link status` -> `UP`."""
    return parse_key_values(text, ":", source).require(key)


@dataclass(frozen=True)
class HccnAddress:
    """One NPU's address as `hccn_tool -i N -ip -g` prints it."""

    ipaddr: str
    netmask: str


def parse_hccn_ip(text: str, source: str = "hccn_tool -ip -g") -> HccnAddress:
    """`hccn_tool -i N -ip -g`: the NPU's ipaddr and netmask, both required."""
    values = parse_key_values(text, ":", source)
    return HccnAddress(values.require("ipaddr"), values.require("netmask"))


def parse_hccn_tls(text: str, device: int, source: str = "hccn_tool -tls -g") -> dict[str, str]:
    """`hccn_tool -i N -tls -g`: the `name[value]` settings of device N's switch line.

    Certificate blocks that follow (issuer, start/end time) differ per node by nature and
    are not compared; a missing or foreign switch line raises.
    """
    for line in whole_lines(text):
        match = _TLS_SETTINGS.match(line.strip())
        if match and int(match["dev"]) == device:
            return {name.strip(): value for name, value in _TLS_FIELD.findall(match["rest"])}
    raise ParseError(f"{source}: no 'dev_id:{device}, tls switch[...]' line")
