"""Host scenarios the NPU tool stand-ins replay: healthy 300I Duo and A2 nodes and faults.

Standard library only: the stand-in executables in bin/ import this module. Each scenario
starts from real recorded outputs (recordings/, INDEX.md names their sources) and changes
only what its fault is about, keeping the recorded layout: a chip's name or health, NPUs
dropped, the output cut short (a pipe closed early), the recorded processes kept or
replaced by npu-smi's own "No running processes found in NPU n" rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parent / "recordings"
SCENARIO_ENV = "NPU_STANDIN_SCENARIO"

HCCN_TLS_LINE = (  # the switch line as hicann/hccl's param_link_stage doc records it
    "dev_id:{dev}, tls switch[{switch}](0:disable, 1:enable), tls preconfigured[1]"
    "(0:non-preset, 1:preset), tls alarm time threshold[60]days"
)
DUO_TABLE = "npu-smi_info_310P3_300IDuo_x4_25.3.rc1_vllm-ascend-6063.txt"
A2_TABLE = "npu-smi_info_910B3_x8_25.3.rc1_with-procs_vllm-ascend-3998.txt"
FIRST_GEN_910_TABLE = (
    "npu-smi_info_910-firstgen-narrow_Health-Warning_with-procs_x8_24.1.RC2_"
    "Atlas800-9010_gpustack-testfixture-from-huawei-doc.txt"
)


@dataclass(frozen=True)
class Scenario:
    """What one simulated node reports."""

    table: str
    board: str
    chip_board: str = "npu-smi_info_-t_board_-i_0_-c_0_A2_910B4_soc-doc_TRUNCATED.txt"
    chip_name: str | None = None  # overrides the recorded chip names
    driver: str = "24.1.rc3"  # board Software Version and driver/version.info
    firmware: str = "7.5.0.1.129"  # board Firmware Version and firmware/version.info
    driver_file: str | None = None  # version.info differs from the board when set
    keep_npus: int | None = None  # drop NPUs after this many
    cut_before_npu: int | None = None  # output ends before this NPU's chip row (0-based)
    processes: bool = False  # keep the recording's processes (else none run)
    health: dict[int, str] = field(default_factory=dict)  # chip row index -> state
    link: dict[int, str] = field(default_factory=dict)  # device -> link status
    net_health: dict[int, str] = field(default_factory=dict)
    tls_switch: str = "0"
    kernel: str | None = "5.10.0-60.18.0.50.oe2203.aarch64"  # uname -r; None: the real one
    kernel_packages: bool = True  # rpm -q kernel-devel/headers-$(uname -r) succeed
    missing_devices: tuple[str, ...] = ()
    devices: int = 8


DUO = Scenario(
    table=DUO_TABLE,
    board="npu-smi_info_-t_board_-i_2944_300IDuo-D500_IT21PD2G10_25.5.1_go-testfixture.txt",
)
A2 = Scenario(
    table=A2_TABLE,
    board="npu-smi_info_-t_board_-i_0_910B-D802_IT21HMDC_25.5.1_yunionio-telegraf-testfixture.txt",
    driver="25.5.1",
    firmware="7.8.0.6.201",
    kernel="5.10.0-182.0.0.95.oe2203sp3.aarch64",
)
# A first-generation 910 server whose Name column reads 910B (the recording anonymised
# it as "xxx"): its board view says PCI 0xD801, its Memory-Usage column is DDR in use.
FIRST_GEN_910B = replace(
    A2,
    table=FIRST_GEN_910_TABLE,
    chip_name="910B",
    board="npu-smi_info_-i_0_-t_board_910A-D801_23.0.5_mind-cluster-faultdiag-testfixture_"
    "INDENTED.txt",
    chip_board="npu-smi_info_-i_0_-c_0_-t_board_910A_23.0.5_mind-cluster-faultdiag-testfixture_"
    "INDENTED.txt",
)

SCENARIOS: dict[str, Scenario] = {
    "duo-healthy": DUO,
    "duo-wrong-driver": replace(DUO, driver="23.0.3"),
    "duo-stale-driver-file": replace(DUO, driver_file="24.1.rc2.2"),
    "duo-wrong-firmware": replace(DUO, firmware="7.1.0.6.220"),
    "duo-wrong-chip": replace(DUO, chip_name="310P1"),
    "duo-too-few-npus": replace(DUO, keep_npus=1),
    "duo-chip-alarm": replace(DUO, health={3: "Alarm"}),
    "duo-chip-error": replace(DUO, health={5: "Error"}),
    "duo-chip-upper-alarm": replace(DUO, health={0: "ALARM"}),
    "duo-cut-before-alarm-card": replace(DUO, health={6: "Alarm"}, cut_before_npu=3),
    "duo-busy": replace(DUO, processes=True),
    "duo-missing-device": replace(DUO, missing_devices=("davinci3", "hisi_hdc")),
    "duo-wrong-kernel": replace(DUO, kernel="4.19.90-2107.6.0.0100.oe1.aarch64"),
    "duo-no-kernel-devel": replace(DUO, kernel_packages=False),
    "a2-healthy": A2,
    "a2-26x-wide": replace(
        A2,
        table="npu-smi_info_26.x-wide_910B3_x8_26.1.0_with-procs-"
        "container-col_no_root_manager-testfixture.txt",
    ),
    "a2-chip-critical": replace(A2, health={6: "Critical"}),
    "a2-chip-abnormal": replace(A2, health={2: "Abnormal"}),
    "a2-cut-after-npu-3": replace(A2, cut_before_npu=4),
    "a2-busy": replace(A2, processes=True),
    "a2-first-gen-910b": FIRST_GEN_910B,
    "a2-link-down": replace(A2, link={5: "DOWN"}),
    "a2-net-health-fault": replace(A2, net_health={2: "Fault"}),
    "a2-tls-on": replace(A2, tls_switch="1"),
}


def recording(name: str) -> str:
    """A recorded tool output."""
    return (RECORDINGS / name).read_text()


_NPU_CELL = re.compile(r"^(\|\s*)(\d+)(\s+)(\S+)(\s*\|)([^|]*)(\|.*)$")
_PROCESS_NPU = re.compile(r"^\|\s*(?:No running processes found in NPU )?(\d+)")


@dataclass(frozen=True)
class _Table:
    """A recorded `npu-smi info` table cut into its parts (classic layouts)."""

    header: list[str]  # title and header rows, up to their '=' border
    npus: list[tuple[str, list[str]]]  # (NPU id, its rows and borders)
    process_header: list[str]  # border, header row, '=' border
    process_groups: dict[str, list[str]]  # NPU id -> its process rows and closing border

    @property
    def separator(self) -> str:
        """The '=' border that closes each process group."""
        return self.process_header[-1]


def _split_table(text: str) -> _Table:
    lines = text.splitlines()
    body = next(i for i, line in enumerate(lines) if line.strip().startswith("+="))
    process = next(i for i, line in enumerate(lines) if "Process id" in line) - 1
    npus: list[tuple[str, list[str]]] = []
    expect_chip = True
    for line in lines[body + 1 : process]:
        match = _NPU_CELL.match(line.strip())
        if expect_chip and match:
            if not npus or npus[-1][0] != match.group(2):
                npus.append((match.group(2), []))
            expect_chip = False
        elif line.strip().startswith("+"):
            expect_chip = True
        npus[-1][1].append(line)
    groups: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines[process + 3 :]:
        current.append(line)
        if line.strip().startswith("+"):
            npu = _PROCESS_NPU.match(current[0].strip())
            groups[npu.group(1) if npu else "?"] = current
            current = []
    return _Table(lines[: body + 1], npus, lines[process : process + 3], groups)


def _cell(text: str, width: int) -> str:
    return (" " + text).ljust(width)


def _chip_row(line: str, s: Scenario, row: int) -> str:
    match = _NPU_CELL.match(line)
    name = s.chip_name or match.group(4)
    health = s.health.get(row, match.group(6).strip())
    name_cell = name.ljust(len(match.group(4)) + len(match.group(5)) - 1) + "|"
    return (
        match.group(1)
        + match.group(2)
        + match.group(3)
        + name_cell
        + _cell(health, len(match.group(6)))
        + match.group(7)
    )


def _no_processes(npu: str, width: int) -> str:
    return f"| No running processes found in NPU {npu}".ljust(width - 1) + "|"


def npu_smi_info(s: Scenario) -> str:
    """`npu-smi info` of the scenario: the recorded table with its faults applied."""
    table = _split_table(recording(s.table))
    kept = table.npus[: s.keep_npus] if s.keep_npus is not None else table.npus
    out = list(table.header)
    row = 0
    for index, (_npu, lines) in enumerate(kept):
        if index == s.cut_before_npu:
            return "\n".join(out) + "\n"
        expect_chip = True
        for line in lines:
            if expect_chip and _NPU_CELL.match(line.strip()):
                out.append(_chip_row(line, s, row))
                row += 1
                expect_chip = False
            else:
                out.append(line)
                expect_chip = line.strip().startswith("+")
    out += table.process_header
    width = len(table.separator.strip())
    for npu, _lines in kept:
        if s.processes:
            out += table.process_groups[npu]
        else:
            out += [_no_processes(npu, width), table.separator]
    return "\n".join(out) + "\n"


def _set_value(text: str, key: str, value: str) -> str:
    return re.sub(
        rf"^(\s*{re.escape(key)}\s*:\s*).*$", lambda m: m.group(1) + value, text, flags=re.MULTILINE
    )


def board(s: Scenario, npu_id: str, chip: str | None) -> str:
    """`npu-smi info -t board -i N [-c C]` in the recorded layout."""
    if chip is not None:
        text = _set_value(recording(s.chip_board), "NPU ID", npu_id)
        text = _set_value(text, "Chip ID", chip)
        return _set_value(text, "Chip Name", s.chip_name or _recorded_chip_name(s))
    text = _set_value(recording(s.board), "NPU ID", npu_id)
    text = _set_value(text, "Software Version", s.driver)
    return _set_value(text, "Firmware Version", s.firmware)


def _recorded_chip_name(s: Scenario) -> str:
    first_row = _split_table(recording(s.table)).npus[0][1][0]
    return _NPU_CELL.match(first_row.strip()).group(4)


def npu_ids(s: Scenario) -> list[str]:
    """NPU ids the scenario's table lists."""
    table = _split_table(recording(s.table)).npus
    kept = table[: s.keep_npus] if s.keep_npus is not None else table
    return [npu for npu, _ in kept[: s.cut_before_npu]]


def version_info(s: Scenario, part: str) -> str:
    """driver/ or firmware/version.info of the scenario (recorded driver file layout)."""
    if part == "firmware":
        return f"Version={s.firmware}\n"
    version = s.driver_file or s.driver
    text = recording("driver_version.info_24.1.rc2.2_MindIE-800I-A2-host.txt")
    text = re.sub(r"^Version=.*$", f"Version={version}", text, flags=re.MULTILINE)
    return re.sub(r"^package_version=.*$", f"package_version={version}", text, flags=re.MULTILINE)


def hccn(s: Scenario, device: int, query: str) -> str:
    """`hccn_tool -i DEVICE QUERY -g` in the recorded (indented) layout."""
    if query == "-link":
        text = recording("hccn_tool_-i_N_-link_-g_UP_mind-cluster-doc_INDENTED.txt")
        return text.replace("UP", s.link.get(device, "UP"))
    if query == "-net_health":
        text = recording("hccn_tool_-i_N_-net_health_-g_Success_mind-cluster-doc_INDENTED.txt")
        return text.replace("Success", s.net_health.get(device, "Success"))
    if query == "-ip":
        lines = recording(
            "hccn_tool_-i_0..7_-ip_-g_loop_Atlas800IA2_MindIE-LLM-multinode-doc_INDENTED.txt"
        ).splitlines()
        return "\n".join(lines[2 * device : 2 * device + 2]) + "\n"
    if query == "-tls":
        return HCCN_TLS_LINE.format(dev=device, switch=s.tls_switch) + "\n"
    raise KeyError(query)
