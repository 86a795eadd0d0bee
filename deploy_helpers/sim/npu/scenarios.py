"""Host scenarios the NPU tool stand-ins replay: healthy 300I Duo and A2 nodes and faults.

Standard library only: the stand-in executables in bin/ import this module. Each scenario
starts from real recorded outputs (recordings/, copied from shared/samples) and changes
only what its fault is about, keeping the recorded layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parent / "recordings"
SCENARIO_ENV = "NPU_STANDIN_SCENARIO"

HCCN_TLS_LINE = (  # no recording of `-tls -g` exists; this follows the documented layout
    "dev_id:{dev}, tls switch[{switch}](0:disable, 1:enable), tls preconfigured[1]"
    "(0:non-preset, 1:preset), tls alarm time threshold[60]days"
)


@dataclass(frozen=True)
class Scenario:
    """What one simulated node reports."""

    table: str
    board: str
    chip_board: str = "npu-smi_info_-t_board_-i_0_-c_0_A2_910B4_soc-doc_TRUNCATED.txt"
    chip_name: str | None = None          # overrides the recorded chip names
    driver: str = "24.1.rc3"              # board Software Version and driver/version.info
    firmware: str = "7.5.0.1.129"         # board Firmware Version and firmware/version.info
    driver_file: str | None = None        # version.info differs from the board when set
    keep_npus: int | None = None          # drop NPUs after this many
    health: dict[int, str] = field(default_factory=dict)  # chip row index -> state
    link: dict[int, str] = field(default_factory=dict)    # device -> link status
    net_health: dict[int, str] = field(default_factory=dict)
    tls_switch: str = "0"
    kernel: str | None = "5.10.0-60.18.0.50.oe2203.aarch64"  # uname -r; None: the real one
    kernel_packages: bool = True          # rpm -q kernel-devel/headers-$(uname -r) succeed
    missing_devices: tuple[str, ...] = ()
    devices: int = 8


DUO = Scenario(
    table="npu-smi_info_310P3_300IDuo_x4_25.3.rc1_vllm-ascend-6063.txt",
    board="npu-smi_info_-t_board_-i_2944_300IDuo-D500_IT21PD2G10_25.5.1_go-testfixture.txt",
)
A2 = Scenario(
    table="npu-smi_info_910B3_x8_25.3.rc1_with-procs_vllm-ascend-3998.txt",
    board="npu-smi_info_-t_board_-i_0_910B-D802_IT21HMDC_25.5.1_yunionio-telegraf-testfixture.txt",
    driver="25.5.1",
    firmware="7.8.0.6.201",
    kernel="5.10.0-182.0.0.95.oe2203sp3.aarch64",
)

SCENARIOS: dict[str, Scenario] = {
    "duo-healthy": DUO,
    "duo-wrong-driver": replace(DUO, driver="23.0.3"),
    "duo-stale-driver-file": replace(DUO, driver_file="24.1.rc2.2"),
    "duo-wrong-firmware": replace(DUO, firmware="7.1.0.6.220"),
    "duo-wrong-chip": replace(DUO, chip_name="310P1"),
    "duo-too-few-npus": replace(DUO, keep_npus=1),
    "duo-chip-alarm": replace(DUO, health={3: "Alarm"}),
    "duo-missing-device": replace(DUO, missing_devices=("davinci3", "hisi_hdc")),
    "duo-wrong-kernel": replace(DUO, kernel="4.19.90-2107.6.0.0100.oe1.aarch64"),
    "duo-no-kernel-devel": replace(DUO, kernel_packages=False),
    "a2-healthy": A2,
    "a2-chip-critical": replace(A2, health={6: "Critical"}),
    "a2-link-down": replace(A2, link={5: "DOWN"}),
    "a2-net-health-fault": replace(A2, net_health={2: "Fault"}),
    "a2-tls-on": replace(A2, tls_switch="1"),
}


def recording(name: str) -> str:
    """A recorded tool output."""
    return (RECORDINGS / name).read_text()


_CHIP_ROW = re.compile(r"^(\|\s*)(\d+)(\s+)(\S+)(\s*\|)([^|]*)(\|.*)$")


def _is_chip_row(line: str) -> re.Match[str] | None:
    match = _CHIP_ROW.match(line)
    if match and match.group(6).strip() in ("OK", "Warning", "Alarm", "Critical", "UNKNOWN"):
        return match
    return None


def _cell(text: str, width: int) -> str:
    return (" " + text).ljust(width)


def npu_smi_info(s: Scenario) -> str:
    """`npu-smi info` of the scenario: the recorded table with its faults applied."""
    out: list[str] = []
    npus: list[str] = []
    row = -1
    skip = 0
    for line in recording(s.table).splitlines():
        if skip:
            skip -= 1
            continue
        match = _is_chip_row(line)
        if not match:
            out.append(line)
            continue
        npu = match.group(2)
        if npu not in npus:
            npus.append(npu)
        if s.keep_npus is not None and len(npus) > s.keep_npus:
            skip = 2  # the chip's bus row and the separator below it
            continue
        row += 1
        name = s.chip_name or match.group(4)
        health = s.health.get(row, match.group(6).strip())
        out.append(match.group(1) + npu + match.group(3) + name.ljust(len(match.group(4)))
                   + match.group(5) + _cell(health, len(match.group(6))) + match.group(7))
    return "\n".join(out) + "\n"


def _set_value(text: str, key: str, value: str) -> str:
    return re.sub(rf"^(\s*{re.escape(key)}\s*:\s*).*$", lambda m: m.group(1) + value, text,
                  flags=re.MULTILINE)


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
    for line in recording(s.table).splitlines():
        if match := _is_chip_row(line):
            return match.group(4)
    raise ValueError(f"{s.table}: no chip rows")


def npu_ids(s: Scenario) -> list[str]:
    """NPU ids the scenario's table lists."""
    ids: list[str] = []
    for line in npu_smi_info(s).splitlines():
        if (match := _is_chip_row(line)) and match.group(2) not in ids:
            ids.append(match.group(2))
    return ids


def version_info(s: Scenario, part: str) -> str:
    """driver/ or firmware/version.info of the scenario (recorded driver file layout)."""
    if part == "firmware":
        return f"Version={s.firmware}\n"
    version = s.driver_file or s.driver
    text = recording("driver_version.info_24.1.rc2.2_MindIE-800I-A2-host.txt")
    text = re.sub(r"^Version=.*$", f"Version={version}", text, flags=re.MULTILINE)
    return re.sub(r"^package_version=.*$", f"package_version={version}", text,
                  flags=re.MULTILINE)


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
        return "\n".join(lines[2 * device: 2 * device + 2]) + "\n"
    if query == "-tls":
        return HCCN_TLS_LINE.format(dev=device, switch=s.tls_switch) + "\n"
    raise KeyError(query)
