"""The NPU tool parsers on every recorded real output (deploy_helpers/sim/npu/recordings/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_helpers.host import npu_tools

RECORDINGS = Path(__file__).resolve().parent.parent / "deploy_helpers" / "sim" / "npu" / "recordings"
SHARED = Path("/work/shared/samples/ascend-tool-outputs")
DUO = "npu-smi_info_310P3_300IDuo_x4_25.3.rc1_vllm-ascend-6063.txt"
PRO = "npu-smi_info_310P3_300IPro_x4_25.2.1_lmdeploy-4272_TRUNCATED.txt"
A2 = "npu-smi_info_910B3_x8_25.3.rc1_with-procs_vllm-ascend-3998.txt"
A3 = "npu-smi_info_A3_Ascend910_x8x2_24.1.rc3.7_vllm-ascend-2971.txt"
CHIP = "npu-smi_info_-t_board_-i_0_-c_0_A2_910B4_soc-doc_TRUNCATED.txt"


def rec(name: str) -> str:
    """A recorded output."""
    return (RECORDINGS / name).read_text()


def test_recordings_are_verbatim_copies_of_the_shared_samples() -> None:
    if not SHARED.is_dir():  # the copies are what CI relies on when shared/ is absent
        assert len(list(RECORDINGS.glob("*.txt"))) == 12
        return
    for sample in SHARED.glob("*.txt"):
        assert (RECORDINGS / sample.name).read_text() == sample.read_text(), sample.name


def test_300i_duo_two_chips_per_npu_share_a_bus_id() -> None:
    info = npu_tools.parse_npu_smi_info(rec(DUO))
    assert info.version == "25.3.rc1"
    assert len(info.chips) == 8
    assert info.npu_ids == [0, 96, 32768, 32896]
    assert [c.device for c in info.chips] == list(range(8))
    assert {c.name for c in info.chips} == {"310P3"} and {c.health for c in info.chips} == {"OK"}
    first, second = info.chips[:2]
    assert (first.chip, second.chip) == (0, 1) and first.bus_id == second.bus_id == "0000:01:00.0"
    assert first.power_w is None and first.temp_c == 86
    assert (first.memory_used_mb, first.memory_total_mb) == (35552, 44278)  # "35552/ 44278"
    assert first.hbm_total_mb is None
    assert info.chips[-1].bus_id == "0000:84:00.0"


def test_truncated_300i_pro_table() -> None:
    info = npu_tools.parse_npu_smi_info(rec(PRO))
    assert info.version == "25.2.1"
    assert info.npu_ids == [0, 32, 32768, 32800]
    assert [(c.memory_used_mb, c.memory_total_mb) for c in info.chips][2] == (19562, 21527)
    assert info.chips[-1].device == 3


def test_a2_table_with_hbm_and_processes() -> None:
    info = npu_tools.parse_npu_smi_info(rec(A2))
    assert len(info.chips) == 8 and info.npu_ids == list(range(8))
    assert {c.name for c in info.chips} == {"910B3"}
    assert info.chips[0].device is None and info.chips[0].power_w == 94.3
    assert (info.chips[0].hbm_used_mb, info.chips[0].hbm_total_mb) == (4487, 65536)
    assert info.chips[7].bus_id == "0000:42:00.0"


def test_a3_table_with_dash_power_and_two_chips_per_npu() -> None:
    info = npu_tools.parse_npu_smi_info(rec(A3))
    assert info.version == "24.1.rc3.7"
    assert len(info.chips) == 16 and info.npu_ids == list(range(8))
    assert info.chips[1].power_w is None and info.chips[0].power_w == 178.7
    assert [c.device for c in info.chips] == list(range(16))
    assert info.chips[15].hbm_used_mb == 3187


def test_health_states_are_read() -> None:
    text = rec(A2)
    row = "| 3     910B3               | "
    text = text.replace(row + "OK    ", row + "Alarm ")
    info = npu_tools.parse_npu_smi_info(text)
    assert [c.health for c in info.chips].count("Alarm") == 1 and info.chips[3].health == "Alarm"


@pytest.mark.parametrize(
    ("name", "software", "firmware", "npu_id", "chips"),
    [
        ("npu-smi_info_-t_board_-i_0_910B-D802_IT21HMDC_25.5.1_yunionio-telegraf-testfixture.txt",
         "25.5.1", "7.8.0.6.201", "0", "1"),
        ("npu-smi_info_-t_board_-i_2944_300IDuo-D500_IT21PD2G10_25.5.1_go-testfixture.txt",
         "25.5.1", "7.8.0.6.201", "2944", "2"),
    ],
)
def test_board_views_indented_or_not(
    name: str, software: str, firmware: str, npu_id: str, chips: str
) -> None:
    board = npu_tools.parse_board(rec(name))
    assert board["Software Version"] == software and board["Firmware Version"] == firmware
    assert board["NPU ID"] == npu_id and board["Chip Count"] == chips
    assert board["Compatibility"] == "OK"


def test_board_pcie_bus_info_keeps_its_colons() -> None:
    board = npu_tools.parse_board(rec(
        "npu-smi_info_-t_board_-i_0_910B-D802_IT21HMDC_25.5.1_yunionio-telegraf-testfixture.txt"))
    assert board["PCIe Bus Info"] == "0000:C1:00.0"


def test_chip_view_gives_chip_name() -> None:
    board = npu_tools.parse_board(rec(CHIP))
    assert board == {"NPU ID": "0", "Chip ID": "0", "Chip Type": "Ascend", "Chip Name": "910B4"}


@pytest.mark.parametrize(
    ("name", "version", "fw_range"),
    [
        ("driver_version.info_24.1.rc2.2_MindIE-800I-A2-host.txt", "24.1.rc2.2", "[7.0.0,7.2.99]"),
        ("driver_version.info_25.0.rc1.1_Atlas800IA2-910B4.txt", "25.0.rc1.1", "[7.0.0,7.7.99]"),
    ],
)
def test_driver_version_info(name: str, version: str, fw_range: str) -> None:
    info = npu_tools.parse_version_info(rec(name))
    assert info["Version"] == info["package_version"] == version
    assert info["compatible_version_fw"] == fw_range


def test_hccn_tool_outputs() -> None:
    link = rec("hccn_tool_-i_N_-link_-g_UP_mind-cluster-doc_INDENTED.txt")
    health = rec("hccn_tool_-i_N_-net_health_-g_Success_mind-cluster-doc_INDENTED.txt")
    assert npu_tools.parse_hccn_status(link, "link status") == "UP"
    assert npu_tools.parse_hccn_status(health, "net health status") == "Success"
    ips = npu_tools.parse_hccn_ip(
        rec("hccn_tool_-i_0..7_-ip_-g_loop_Atlas800IA2_MindIE-LLM-multinode-doc_INDENTED.txt"))
    assert len(ips) == 8
    assert ips[0] == {"ipaddr": "10.10.100.10", "netmask": "255.255.255.0"}
    assert ips[7]["ipaddr"] == "10.10.100.17"


def test_hccn_tls_settings_ignore_the_device_id() -> None:
    line = ("dev_id:{}, tls switch[{}](0:disable, 1:enable), tls preconfigured[1](0:non-preset, "
            "1:preset), tls alarm time threshold[60]days")
    zero = npu_tools.parse_hccn_tls(line.format(0, 0))
    three = npu_tools.parse_hccn_tls(line.format(3, 0))
    assert zero == three == {"tls switch": "0", "tls preconfigured": "1",
                             "tls alarm time threshold": "60"}
    assert npu_tools.parse_hccn_tls(line.format(0, 1))["tls switch"] == "1"
    assert npu_tools.parse_hccn_tls("dev_id:2, tls disabled") == {"raw": "tls disabled"}


def test_empty_or_foreign_output_gives_no_chips() -> None:
    assert npu_tools.parse_npu_smi_info("").chips == []
    assert npu_tools.parse_npu_smi_info("command not found\n").chips == []
