"""Which chip family a host has, decided on every piece of evidence the tools give.

A chip's family is the one family whose rules agree with all of: the Name column of
`npu-smi info`, the table's layout, its memory columns (Memory-Usage is DDR on 910 and
310P chips; HBM-Usage is there or not), and per NPU the board view's `PCI Device ID` and
the `-c 0` view's `Chip Name`. No family agreeing, or more than one, is a verdict too:
the host cannot be told, and a check fails on it rather than guess.

The rules come from the recorded real outputs (deploy_helpers/sim/npu/recordings/INDEX.md):
- 310P3 (Atlas 300I Duo / 300I Pro): Name 310P3, no HBM column, DDR 21527 (Pro) or
  43693-44278 MB (Duo) per chip (vllm-ascend#6063, lmdeploy#4272); board PCI 0xD500
  (Go test fixture, 300I Duo).
- 910B (Atlas A2): Name 910B1-910B4 (arthurchiao blog, vllm-hust, vllm-ascend#3998,
  #1768, #5847, triton-ascend doc) or 910B2C (a Go parser's test table, code search index
  id 58189977989, not recorded: its other rows look hand-made), DDR column 0 / 0, HBM
  65536 or 32768 MB (910B4-32G); board PCI 0xD802 (yunionio/telegraf fixture); -c 0 Chip
  Name 910B4 (SoC doc).
- 910 (first generation, Atlas 800 9000/9010): Name 910A (gpustack fixture, 22.0.3.1) or,
  per vendor naming, 910B/910ProA/910ProB/910PremiumA; DDR in use, 13553-15567 MB, and HBM
  32768 MB (mind-cluster doc, gpustack 24.1.RC2); board PCI 0xD801 and -c 0 Chip Name
  910A (mind-cluster fixture). A bare "910B" Name fits both 910 and 910B: memory decides.
- 910_93 (Atlas A3): Name Ascend910, the Chip Phy-ID layout, two chips per NPU, DDR 0,
  HBM 65536 MB (vllm-ascend#2971, #12980).
- 950: the 950 layout (NPU ID column, NPU Util), HBM 86016 MB; board PCI 0xD806
  (hicann/driver docs, which anonymise the name; "Ascend950PR" in SwanLab's condensed
  `-m` fixture is the only name seen, so the Name rule is a guess: 950 plus a suffix).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from deploy_helpers.host.npu_table import Chip, NpuTable


@dataclass(frozen=True)
class ChipEvidence:
    """What the tools say about one chip (board values None where not read)."""

    chip: Chip
    layout: str
    pci_device: str | None = None  # `npu-smi info -t board -i N`: PCI Device ID
    board_chip_name: str | None = None  # `npu-smi info -t board -i N -c 0`: Chip Name

    def describe(self) -> str:
        """The evidence in words, for messages."""
        c = self.chip
        parts = [
            f"Name {c.name}",
            f"layout {self.layout}",
            f"Memory-Usage {c.memory_used_mb}/{c.memory_total_mb} MB",
            f"HBM {c.hbm_total_mb} MB" if c.hbm_total_mb is not None else "no HBM column",
        ]
        if self.pci_device is not None:
            parts.append(f"PCI Device ID {self.pci_device}")
        if self.board_chip_name is not None:
            parts.append(f"board Chip Name {self.board_chip_name}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Family:
    """A chip family and the rules its chips satisfy."""

    key: str  # the catalog's chip_family value
    label: str
    names: re.Pattern[str]
    layouts: tuple[str, ...]
    memory: Callable[[Chip], bool]
    pci_devices: tuple[str, ...] = ()  # empty: no recorded value, not checked

    def agrees(self, evidence: ChipEvidence) -> bool:
        """Whether every piece of the evidence fits this family."""
        chip = evidence.chip
        return (
            bool(self.names.fullmatch(chip.name))
            and evidence.layout in self.layouts
            and self.memory(chip)
            and (
                not self.pci_devices
                or evidence.pci_device is None
                or evidence.pci_device.upper() in self.pci_devices
            )
            and (
                evidence.board_chip_name is None
                or bool(self.names.fullmatch(evidence.board_chip_name))
            )
        )


CLASSIC = ("classic", "26.x-wide")
FAMILIES: tuple[Family, ...] = (
    Family(
        "310P3",
        "Ascend 310P3 (Atlas 300I Duo / 300I Pro)",
        re.compile("310P3"),
        CLASSIC,
        lambda c: c.hbm_total_mb is None and c.memory_total_mb > 0,
        ("0XD500",),
    ),
    Family(
        "910B",
        "Ascend 910B (Atlas A2)",
        re.compile("910B([1-4]C?)?"),
        CLASSIC,
        lambda c: c.memory_total_mb == 0 and c.hbm_total_mb in (65536, 32768),
        ("0XD802",),
    ),
    Family(
        "910",
        "first-generation Ascend 910 (Atlas 800 9000/9010)",
        re.compile("910A|910B|910ProA|910ProB|910PremiumA"),
        ("classic",),
        lambda c: c.memory_total_mb > 0 and c.hbm_total_mb == 32768,
        ("0XD801",),
    ),
    Family(
        "910_93",
        "Ascend 910_93 (Atlas A3)",
        re.compile("Ascend910"),
        ("a3", "26.x-wide-a3"),
        lambda c: c.memory_total_mb == 0 and c.hbm_total_mb == 65536,
    ),
    Family(
        "950",
        "Ascend 950",
        re.compile(r"(Ascend)?950\w*"),
        ("950",),
        lambda c: c.hbm_total_mb is not None and c.memory_total_mb == 0,
        ("0XD806",),
    ),
)


def family(key: str) -> Family | None:
    """The family of a catalog chip_family value, if the suite has rules for it."""
    return next((f for f in FAMILIES if f.key == key), None)


def families_of(evidence: ChipEvidence, families: tuple[Family, ...] = FAMILIES) -> list[Family]:
    """Every family the evidence agrees with (one when the chip can be told)."""
    return [f for f in families if f.agrees(evidence)]


def evidence_of(
    table: NpuTable, pci: dict[int, str], chip_names: dict[int, str]
) -> list[ChipEvidence]:
    """Each chip's evidence, with the board values read per NPU."""
    return [
        ChipEvidence(c, table.layout, pci.get(c.npu_id), chip_names.get(c.npu_id))
        for c in table.chips
    ]
