"""The `npu-smi info` table, read whole or not at all.

`parse_npu_smi_info(text)` returns an `NpuTable` (tool version, layout, every NPU with its
chips, every process on them) only when it read the whole table: title, both header rows,
every NPU's chip and bus rows, the process section with an entry for every NPU, and the
closing border. Anything else raises `ParseError` with one line saying where the table
stops making sense ("npu-smi info table ends after NPU 10: no process section").

Layouts read (real outputs in deploy_helpers/sim/npu/recordings/, INDEX.md):
- classic: `NPU Name | Health | Power Temp Hugepages` over `Chip [Device] | Bus-Id |
  AICore Memory [HBM]`, 93 to 106 wide (first-gen 910, A2, 300I Duo with two chips per NPU);
- a3: the classic rows with a `Chip Phy-ID` column, two chips per NPU (Atlas A3);
- 26.x-wide: the classic rows 116 wide, processes with a `Process id in container` column;
- 950: a separate `NPU ID` column, `NPU Util(%)`, one chip per NPU, processes by NPU ID.
Every line of a table is as wide as its top border, so a line cut short is noticed too.
npu-smi prints a process section (20.x-22.x outputs have none): without one, a table cut at
an NPU border would look whole, so a table without it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from deploy_helpers.host.npu_tools import ParseError

COMMAND = "npu-smi info"
_BORDER = re.compile(r"^\+[-=+]+\+$")
_TITLE = re.compile(r"^npu-smi\s+\S+\s+Version:\s*(?P<version>\S+)$")
_BUS_ID = re.compile(r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$")
_USAGE = r"(?P<{0}_used>\d+)\s*/\s*(?P<{0}_total>\d+)"
_POWER_CELL = re.compile(r"^(?P<power>\S+)\s+(?P<temp>\S+)\s+" + _USAGE.format("huge") + "$")
_MEMORY_CELL = re.compile(
    r"^(?P<util>\S+)\s+" + _USAGE.format("mem") + r"(?:\s+" + _USAGE.format("hbm") + ")?$"
)
_NO_PROCESSES = re.compile(r"^No running processes found in NPU (?P<npu>\d+)$")

# header rows, whitespace collapsed; the second row's first cell names the chip columns
_HEAD_CLASSIC = ("NPU Name", "Health", "Power(W) Temp(C) Hugepages-Usage(page)")
_HEAD_950 = ("NPU ID", "Name", "Health", "Power(W) Temp(C) Hugepages-Usage(page)")
_CHIP_COLUMNS = {"Chip": None, "Chip Device": "Device", "Chip Phy-ID": "Phy-ID"}
_MEMORY_HEADS = {
    "AICore(%) Memory-Usage(MB)": False,
    "AICore(%) Memory-Usage(MB) HBM-Usage(MB)": True,
}
_HEAD2_950 = ("", "", "Bus-Id", "NPU Util(%) Memory-Usage(MB) HBM-Usage(MB)")
_PROCESS_HEAD = ("Process id", "Process name", "Process memory(MB)")
_CONTAINER_PID = "Process id in container"


@dataclass(frozen=True)
class Chip:
    """One chip of an NPU: its chip row and bus row."""

    npu_id: int
    chip: int  # index within its NPU (0 where the layout has no Chip column)
    device: int | None  # the Device (300I Duo) or Phy-ID (A3) column, if the layout has one
    name: str
    health: str  # as printed: OK, Warning, Alarm, anything else
    bus_id: str
    power_w: float | None  # None for "NA" / "-"
    temp_c: int | None
    memory_used_mb: int  # Memory-Usage: DDR on 910 and 310P chips
    memory_total_mb: int
    hbm_used_mb: int | None = None
    hbm_total_mb: int | None = None


@dataclass(frozen=True)
class Npu:
    """One NPU (a card, or a module of an A3) and its chips, in table order."""

    npu_id: int
    chips: tuple[Chip, ...]


@dataclass(frozen=True)
class NpuProcess:
    """One row of the process section: a process holding memory on a chip."""

    npu_id: int
    chip: int | None  # None in the 950 layout (processes by NPU ID only)
    pid: int
    name: str  # "" when npu-smi prints none (common inside containers)
    memory_mb: int
    container_pid: str | None = None  # the 26.x layout's "Process id in container" (or NA)

    def describe(self) -> str:
        """`PID 2698909 (name) 600 MB on NPU 0 chip 0`, for check messages."""
        where = f"NPU {self.npu_id}" + (f" chip {self.chip}" if self.chip is not None else "")
        return f"PID {self.pid} ({self.name or 'no name shown'}) {self.memory_mb} MB on {where}"


@dataclass(frozen=True)
class NpuTable:
    """A whole `npu-smi info` table."""

    version: str
    layout: str  # classic, a3, 26.x-wide, 26.x-wide-a3, 950
    npus: tuple[Npu, ...]
    processes: tuple[NpuProcess, ...]

    @property
    def chips(self) -> list[Chip]:
        """Every chip, in table order."""
        return [chip for npu in self.npus for chip in npu.chips]

    @property
    def npu_count(self) -> int:
        """NPUs (cards; A3 modules) in the table."""
        return len(self.npus)

    @property
    def chip_count(self) -> int:
        """Chips in the table (a 300I Duo card or an A3 module has two)."""
        return len(self.chips)

    @property
    def npu_ids(self) -> list[int]:
        """The NPU ids, in table order."""
        return [npu.npu_id for npu in self.npus]


@dataclass(frozen=True)
class _Line:
    number: int
    text: str

    @property
    def border(self) -> str | None:
        """'=' or '-' for a border line, None otherwise."""
        if not _BORDER.match(self.text):
            return None
        return "=" if "=" in self.text else "-"

    @property
    def cells(self) -> list[str] | None:
        """The cells of a `| a | b |` row, whitespace collapsed; None for other lines."""
        if len(self.text) < 2 or self.text[0] != "|" or self.text[-1] != "|":
            return None
        return [" ".join(cell.split()) for cell in self.text[1:-1].split("|")]


class _Reader:
    """The table's lines, one at a time, with errors that say where the table stopped."""

    def __init__(self, text: str) -> None:
        lines = [_Line(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
        while lines and not lines[-1].text:
            lines.pop()
        start = next((i for i, line in enumerate(lines) if line.text), len(lines))
        self.lines = lines[start:]
        self.at = 0
        self.width = len(self.lines[0].text) if self.lines else 0
        self.context = "the table"  # what the next line should continue

    def fail(self, problem: str, line: _Line | None = None) -> ParseError:
        """A ParseError naming where the table is (`... ends after NPU 3: no bus row`):
        at `line`, else at the next line, else at the end."""
        if line is None and self.at >= len(self.lines):
            return ParseError(f"{COMMAND} table ends {self.context}: {problem}")
        line = line or self.lines[self.at]
        shown = line.text if len(line.text) <= 60 else line.text[:57] + "..."
        return ParseError(f"{COMMAND} line {line.number} ({self.context}): {problem}: {shown!r}")

    def fail_last(self, problem: str) -> ParseError:
        """A ParseError at the line read last (a row whose cells do not read)."""
        return self.fail(problem, self.lines[self.at - 1])

    def peek(self) -> _Line | None:
        """The next line, or None at the end."""
        return self.lines[self.at] if self.at < len(self.lines) else None

    def take(self, what: str) -> _Line:
        """The next line, which must exist and be as wide as the table."""
        line = self.peek()
        if line is None:
            raise self.fail(f"no {what}")
        if len(line.text) != self.width:
            raise self.fail(
                f"{what} is {len(line.text)} wide, the table {self.width} (a cut or edited line)"
            )
        self.at += 1
        return line

    def _check_width(self, what: str) -> None:
        line = self.peek()
        if line is not None and len(line.text) != self.width:
            self.take(what)  # raises, naming the width

    def border(self, what: str, kind: str | None = None) -> str:
        """Consume a border (of `kind` '=' or '-' when given); its kind."""
        self._check_width(what)
        line = self.peek()
        found = line.border if line is not None else None
        if found is None or (kind is not None and found != kind):
            raise self.fail(f"no {what}")
        self.take(what)
        return found

    def row(self, what: str, cells: int) -> list[str]:
        """Consume a row of exactly `cells` cells."""
        self._check_width(what)
        line = self.peek()
        found = line.cells if line is not None else None
        if found is None or len(found) != cells:
            raise self.fail(
                f"no {what}"
                if found is None
                else f"{what} has {len(found)} cells, expected {cells}"
            )
        self.take(what)
        return found


@dataclass(frozen=True)
class _Layout:
    is_950: bool
    chip_column: str | None  # "Device", "Phy-ID" or None
    hbm: bool


def _int(text: str, reader: _Reader, what: str) -> int:
    if not text.isdigit():
        raise reader.fail_last(f"{what} '{text}' is not a number")
    return int(text)


def _reading(text: str, reader: _Reader, what: str) -> float | None:
    if text in ("NA", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        raise reader.fail_last(f"{what} '{text}' is not a reading") from None


def _header(reader: _Reader) -> tuple[str, _Layout]:
    reader.border("top border")
    title = reader.row("title row", 1)[0]
    if not (match := _TITLE.match(title)):
        raise reader.fail_last("title row without 'npu-smi X Version: Y'")
    reader.border("border under the title", "-")
    head1 = tuple(reader.take("first header row").cells or ())
    if head1 not in (_HEAD_CLASSIC, _HEAD_950):
        raise reader.fail_last("unknown layout: header")
    if head1 == _HEAD_950:
        head2 = tuple(reader.row("second header row", 4))
        if head2 != _HEAD2_950:
            raise reader.fail_last("unknown layout: second header row")
        layout = _Layout(True, None, True)
    else:
        head2 = tuple(reader.row("second header row", 3))
        if head2[0] not in _CHIP_COLUMNS or head2[1] != "Bus-Id" or head2[2] not in _MEMORY_HEADS:
            raise reader.fail_last("unknown layout: second header row")
        layout = _Layout(False, _CHIP_COLUMNS[head2[0]], _MEMORY_HEADS[head2[2]])
    reader.border("border under the header", "=")
    return match["version"], layout


def _chip(reader: _Reader, layout: _Layout, npu_id: int | None, index: int) -> Chip:
    """A chip row and its bus row; `npu_id` is the NPU it must belong to, if known."""
    if layout.is_950:
        npu_cell, name, health, power_cell = reader.row("chip row", 4)
        npu = _int(npu_cell, reader, "NPU ID")
    else:
        first, health, power_cell = reader.row("chip row", 3)
        words = first.split()
        if len(words) != 2:
            raise reader.fail_last("chip row without 'NPU Name'")
        npu, name = _int(words[0], reader, "NPU"), words[1]
    if npu_id is not None and npu != npu_id:
        raise reader.fail_last(f"chip {index} of NPU {npu_id} names NPU {npu}")
    if not health:
        raise reader.fail_last("chip row without a Health value")
    power = _POWER_CELL.match(power_cell)
    if power is None:
        raise reader.fail_last("Power/Temp/Hugepages cell unreadable")
    temp = _reading(power["temp"], reader, "Temp")
    reader.context = f"after the chip row of NPU {npu} chip {index}"
    if layout.is_950:
        blank1, blank2, bus, memory_cell = reader.row("bus row", 4)
        chip, device = 0, None
        if blank1 or blank2:
            raise reader.fail_last("950 bus row with text in its NPU ID/Name cells")
    else:
        chip_cell, bus, memory_cell = reader.row("bus row", 3)
        chip_cells = [_int(word, reader, "Chip") for word in chip_cell.split()]
        if len(chip_cells) != (2 if layout.chip_column else 1):
            raise reader.fail_last("bus row's Chip cell does not match the header")
        chip, device = chip_cells[0], chip_cells[1] if layout.chip_column else None
    if chip != index:
        raise reader.fail_last(f"chip {index} of NPU {npu} says chip {chip}")
    memory = _MEMORY_CELL.match(memory_cell)
    if not _BUS_ID.match(bus) or memory is None or bool(memory["hbm_total"]) != layout.hbm:
        raise reader.fail_last("bus row unreadable")
    return Chip(
        npu_id=npu,
        chip=chip,
        device=device,
        name=name,
        health=health,
        bus_id=bus,
        power_w=_reading(power["power"], reader, "Power"),
        temp_c=int(temp) if temp is not None else None,
        memory_used_mb=int(memory["mem_used"]),
        memory_total_mb=int(memory["mem_total"]),
        hbm_used_mb=int(memory["hbm_used"]) if memory["hbm_used"] else None,
        hbm_total_mb=int(memory["hbm_total"]) if memory["hbm_total"] else None,
    )


def _npus(reader: _Reader, layout: _Layout) -> Iterator[Npu]:
    """NPU after NPU, until the line after an NPU's closing border is no chip row."""
    while True:
        line = reader.peek()
        if line is None or line.border is not None:
            return
        chips = [_chip(reader, layout, None, 0)]
        npu_id = chips[0].npu_id
        while True:
            reader.context = f"after NPU {npu_id} chip {chips[-1].chip}"
            if reader.border(f"border after NPU {npu_id} chip {chips[-1].chip}") == "=":
                break
            chips.append(_chip(reader, layout, npu_id, len(chips)))
        reader.context = f"after NPU {npu_id}"
        yield Npu(npu_id, tuple(chips))


def _process_row(cells: list[str], reader: _Reader, layout: _Layout, container: bool) -> NpuProcess:
    ids = cells[0].split()
    if len(ids) != (1 if layout.is_950 else 2):
        raise reader.fail_last("process row's NPU/Chip cell unreadable")
    return NpuProcess(
        npu_id=_int(ids[0], reader, "NPU"),
        chip=None if layout.is_950 else _int(ids[1], reader, "Chip"),
        pid=_int(cells[1], reader, "Process id"),
        name=cells[2],
        memory_mb=_int(cells[3], reader, "Process memory"),
        container_pid=cells[4] if container else None,
    )


def _processes(reader: _Reader, layout: _Layout, npus: list[Npu]) -> tuple[bool, list[NpuProcess]]:
    """The process section: one group per NPU, in table order; (26.x columns?, rows)."""
    npu_ids = [npu.npu_id for npu in npus]
    chips_of = {npu.npu_id: {chip.chip for chip in npu.chips} for npu in npus}
    reader.context = f"after NPU {npu_ids[-1]}"
    if reader.peek() is None:
        raise reader.fail(
            "no process section (a table cut at an NPU border looks the same, "
            "so the NPUs cannot be counted)"
        )
    reader.border("border over the process section", "-")
    head = reader.peek().cells if reader.peek() else None
    first = "NPU ID" if layout.is_950 else "NPU Chip"
    if (
        head is None
        or tuple(head[:4]) != (first, *_PROCESS_HEAD)
        or (len(head) == 5 and head[4] != _CONTAINER_PID)
        or len(head) not in (4, 5)
    ):
        raise reader.fail("unknown layout: process header")
    container = len(head) == 5
    reader.row("process header", len(head))
    reader.border("border under the process header", "=")
    reader.context = "after the process header"
    processes: list[NpuProcess] = []
    for npu_id in npu_ids:
        line = reader.peek()
        cells = line.cells if line is not None else None
        if cells is None:
            raise reader.fail(f"no process entry for NPU {npu_id}")
        none = _NO_PROCESSES.match(cells[0]) if len(cells) == 1 else None
        if none:
            if int(none["npu"]) != npu_id:
                raise reader.fail(
                    f"process entry of NPU {none['npu']} where NPU {npu_id}'s was due"
                )
            reader.take("process entry")
        else:
            group = 0
            while (line := reader.peek()) is not None and line.border is None:
                row = _process_row(reader.row("process row", len(head)), reader, layout, container)
                if row.npu_id != npu_id:
                    raise reader.fail_last(
                        f"process of NPU {row.npu_id} where NPU {npu_id}'s was due"
                    )
                if row.chip is not None and row.chip not in chips_of[npu_id]:
                    raise reader.fail_last(
                        f"process on chip {row.chip}, which NPU {npu_id} does not have"
                    )
                processes.append(row)
                group += 1
                reader.context = f"inside the processes of NPU {npu_id}"
            if not group:
                raise reader.fail(f"no process entry for NPU {npu_id}")
        reader.context = f"inside the processes of NPU {npu_id}"
        reader.border(f"border after the processes of NPU {npu_id}", "=")
        reader.context = f"after the processes of NPU {npu_id}"
    return container, processes


def parse_npu_smi_info(text: str) -> NpuTable:
    """The whole `npu-smi info` table of `text`; ParseError saying what is missing."""
    reader = _Reader(text)
    if not reader.lines:
        raise ParseError(f"{COMMAND} printed nothing")
    version, layout = _header(reader)
    reader.context = "after the header"
    npus = list(_npus(reader, layout))
    if not npus:
        raise reader.fail("no NPU rows")
    seen: set[int] = set()
    for npu in npus:
        if npu.npu_id in seen:
            raise ParseError(f"{COMMAND} table lists NPU {npu.npu_id} twice")
        seen.add(npu.npu_id)
    container, processes = _processes(reader, layout, npus)
    if reader.peek() is not None:
        raise reader.fail("text after the closing border")
    name = "950" if layout.is_950 else "26.x-wide" if container else "classic"
    if layout.chip_column == "Phy-ID":
        name = "a3" if name == "classic" else f"{name}-a3"
    return NpuTable(version, name, tuple(npus), tuple(processes))
