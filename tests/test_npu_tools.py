"""The NPU tool parsers on every recorded real output (deploy_helpers/sim/npu/recordings/)
and on cut or altered copies of them: each result is the whole truth or a ParseError."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from deploy_helpers.host import chips, npu_tools
from deploy_helpers.host.npu_table import NpuTable, parse_npu_smi_info
from deploy_helpers.host.npu_tools import ParseError
from deploy_helpers.sim.npu import scenarios

RECORDINGS = scenarios.RECORDINGS
# the shared samples beside the checkout, where the first recordings were copied from
SOURCES = [Path(__file__).resolve().parents[2] / "shared" / "samples" / "ascend-tool-outputs"]
DUO = "npu-smi_info_310P3_300IDuo_x4_25.3.rc1_vllm-ascend-6063.txt"
A2 = "npu-smi_info_910B3_x8_25.3.rc1_with-procs_vllm-ascend-3998.txt"
A3 = "npu-smi_info_A3_Ascend910_x8x2_24.1.rc3.7_vllm-ascend-2971.txt"
WIDE = (
    "npu-smi_info_26.x-wide_910B3_x8_26.1.0_with-procs-container-col_no_root_manager-"
    "testfixture.txt"
)
WIDE_TRIMMED = (
    "npu-smi_info_26.x-wide_910B2_x2_26.0.rc1_with-procs-container-pid_vllm-hust-"
    "benchmark-testfixture_TRIMMED.txt"
)
A950 = "npu-smi_info_Ascend950_x1_doc-x.x.x_hicann-driver-doc.txt"
FIRST_GEN = scenarios.FIRST_GEN_910_TABLE
BLOG_910B4 = "npu-smi_info_910B4-32G_x8_25.0.rc1.1_Atlas800IA2-driver-install-blog.txt"
BUSY_910B4 = "npu-smi_info_910B4-32G_x4_24.1.rc3_with-procs-VLLMWorker_vllm-ascend-5847.txt"
CHIP_BOARD = "npu-smi_info_-t_board_-i_0_-c_0_A2_910B4_soc-doc_TRUNCATED.txt"
A2_BOARD = "npu-smi_info_-t_board_-i_0_910B-D802_IT21HMDC_25.5.1_yunionio-telegraf-testfixture.txt"
DUO_BOARD = "npu-smi_info_-t_board_-i_2944_300IDuo-D500_IT21PD2G10_25.5.1_go-testfixture.txt"


def rec(name: str) -> str:
    """A recorded output."""
    return (RECORDINGS / name).read_text()


TABLES = sorted(p.name for p in RECORDINGS.glob("npu-smi_info_*.txt") if "-t_" not in p.name)

# every recorded table: (version, layout, NPUs, chips, processes) or the ParseError it gives
WHOLE = {
    DUO: ("25.3.rc1", "classic", 4, 8, 3),
    A2: ("25.3.rc1", "classic", 8, 8, 16),
    A3: ("24.1.rc3.7", "a3", 8, 16, 0),
    WIDE: ("26.1.0", "26.x-wide", 8, 8, 1),
    WIDE_TRIMMED: ("26.0.rc1", "26.x-wide", 2, 2, 1),
    A950: ("x.x.x", "950", 1, 1, 0),
    FIRST_GEN: ("24.1.RC2", "classic", 8, 8, 32),
    BLOG_910B4: ("25.0.rc1.1", "classic", 8, 8, 0),
    "npu-smi_info_910B4-32G_x1-in-container_NPU2_24.1.rc3_vllm-ascend-1768.txt": (
        "24.1.rc3",
        "classic",
        1,
        1,
        0,
    ),
    BUSY_910B4: ("24.1.rc3", "classic", 4, 4, 7),
}
REFUSED = {
    "npu-smi_info_310P3_300IPro_x4_25.2.1_lmdeploy-4272_TRUNCATED.txt": "table ends after NPU 32800 chip 0: no border after NPU 32800 chip 0",
    "npu-smi_info_26.x-wide_910B4-32G_x1_26.0.rc1_triton-ascend-install-doc_TRUNCATED.txt": "table ends inside the processes of NPU 0: no border after the processes of NPU 0",
    "npu-smi_info_26.x-wide_A3_Ascend910_x8x2_26.0.rc2_vllm-ascend-12980_TRUNCATED-HEAD.txt": "table ends after NPU 0 chip 1: no border after NPU 0 chip 1",
    "npu-smi_info_26.x-wide_A3_Ascend910_x8x2_26.0.rc2_vllm-ascend-12980_TRUNCATED-TAIL.txt": "line 2 (the table): title row has 3 cells",
    "npu-smi_info_26.x-wide_A3_Ascend910_x8x2_26.1.0.b061_nyaterm-268_TRUNCATED-HEAD.txt": "table ends after NPU 0 chip 0: no chip row",
    "npu-smi_info_26.x-wide_A3_Ascend910_x8x2_26.1.0.b061_nyaterm-268_TRUNCATED-TAIL.txt": "line 2 (the table): title row has 3 cells",
    "npu-smi_info_310-firstgen_x4-chips_NPU215_20.2.0_Atlas800-3000_gpustack-testfixture-from-"
    "huawei-doc.txt": "line 4 (the table): unknown layout: header",
    "npu-smi_info_310-firstgen_x4-chips_NPU6_21.0.4_Atlas800-3000_gpustack-testfixture-from-"
    "huawei-doc.txt": "table ends after NPU 6: no process section",
    "npu-smi_info_910-firstgen-DDR+HBM32G_x8_23.0.5_mind-cluster-faultdiag-doc_TRUNCATED_"
    "INDENTED.txt": "line 10 (after NPU 0): chip row is 3 wide, the table 98",
    "npu-smi_info_910A-narrow_x8_22.0.3.1_Atlas800-9010_gpustack-testfixture-from-huawei-doc.txt": "table ends after NPU 7: no process section",
    "npu-smi_info_910B1_x8_23.0.rc2_arthurchiao-blog_TRUNCATED.txt": "line 13 (after NPU 1): chip row is 3 wide, the table 98",
    "npu-smi_info_910B4-32G_x1-in-container_Bus-0000-00-00.0_zero-dce-mindie-notes_TRUNCATED.txt": "line 2 (the table): title row has 3 cells",
}


# --------------------------------------------------------------------------- the recordings


def test_recordings_are_verbatim_copies_of_their_sources() -> None:
    recorded = sorted(RECORDINGS.glob("*.txt"))
    assert recorded and all(p.stat().st_size for p in recorded)
    for source in (s for s in SOURCES if s.is_dir()):  # where the samples are at hand
        for sample in source.glob("*.txt"):
            assert (RECORDINGS / sample.name).read_text() == sample.read_text(), sample.name


def test_index_names_every_recording_and_its_source() -> None:
    index = (RECORDINGS / "INDEX.md").read_text()
    rows = {
        line.split("|")[1].strip(): line
        for line in index.splitlines()
        if line.startswith("| ") and ".txt" in line.split("|")[1]
    }
    files = {p.name for p in RECORDINGS.glob("*.txt")}
    assert files == set(rows), files ^ set(rows)
    for name, row in rows.items():
        assert row.split("|")[5].strip(), f"{name}: no source"


def test_every_recorded_table_is_expected_whole_or_refused() -> None:
    assert set(TABLES) == set(WHOLE) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_whole_tables_read(name: str) -> None:
    table = parse_npu_smi_info(rec(name))
    shape = (table.version, table.layout, table.npu_count, table.chip_count, len(table.processes))
    assert shape == WHOLE[name]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_cut_or_unknown_tables_are_refused_naming_why(name: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_npu_smi_info(rec(name))
    message = str(info.value)
    assert REFUSED[name] in message and "\n" not in message


# --------------------------------------------------------------------------- cut at every line


def _cuts(text: str) -> list[str]:
    """Every prefix of `text` at a line boundary, and each line cut in its middle."""
    lines = text.splitlines(keepends=True)
    cuts = []
    for n, line in enumerate(lines):
        head = "".join(lines[:n])
        cuts += [head, head + line[: len(line) // 2]]
    return cuts


def _altered_tables() -> dict[str, str]:
    """Every stand-in scenario's table: recordings with names, health, NPUs, processes
    changed."""
    out = {}
    for name, scenario in scenarios.SCENARIOS.items():
        text = scenarios.npu_smi_info(scenario)
        if text not in out.values():
            out[f"scenario {name}"] = text
    return out


ALL_TABLES = {**{name: rec(name) for name in TABLES}, **_altered_tables()}


def _truth(text: str) -> NpuTable | None:
    try:
        return parse_npu_smi_info(text)
    except ParseError:
        return None


@pytest.mark.parametrize("name", sorted(ALL_TABLES))
def test_a_cut_table_gives_the_whole_truth_or_an_error(name: str) -> None:
    """No chip list, count, version, health or process list from a table read in part."""
    text = ALL_TABLES[name]
    truth = _truth(text)
    for cut in _cuts(text):
        try:
            got = parse_npu_smi_info(cut)
        except ParseError as exc:
            assert "\n" not in str(exc)
            continue
        assert truth is not None and got == truth, (name, cut[-200:])


# --------------------------------------------------------------------------- layouts


def test_300i_duo_two_chips_per_npu_share_a_bus_id() -> None:
    table = parse_npu_smi_info(rec(DUO))
    assert table.npu_ids == [0, 96, 32768, 32896]
    assert [len(npu.chips) for npu in table.npus] == [2, 2, 2, 2]
    assert [c.device for c in table.chips] == list(range(8))
    first, second = table.npus[0].chips
    assert (first.chip, second.chip) == (0, 1) and first.bus_id == second.bus_id == "0000:01:00.0"
    assert first.power_w is None and first.temp_c == 86
    assert (first.memory_used_mb, first.memory_total_mb) == (35552, 44278)  # "35552/ 44278"
    assert first.hbm_total_mb is None


def test_processes_are_read_with_pid_name_and_memory() -> None:
    duo = parse_npu_smi_info(rec(DUO))
    assert [(p.npu_id, p.chip, p.pid, p.name, p.memory_mb) for p in duo.processes] == [
        (0, 0, 326429, "", 33842),
        (0, 0, 326430, "", 108),
        (0, 1, 326430, "", 34086),
    ]
    wide = parse_npu_smi_info(rec(WIDE))
    [proc] = wide.processes
    assert (proc.pid, proc.name, proc.memory_mb, proc.container_pid) == (
        485946,
        "pytest",
        5175,
        "NA",
    )
    assert proc.describe() == "PID 485946 (pytest) 5175 MB on NPU 0 chip 0"
    trimmed = parse_npu_smi_info(rec(WIDE_TRIMMED))
    assert trimmed.processes[0].container_pid == "412309"
    busy = parse_npu_smi_info(rec(BUSY_910B4))
    assert [(p.npu_id, p.pid, p.memory_mb) for p in busy.processes][3:5] == [
        (0, 2385578, 27170),
        (1, 2385579, 27160),
    ]
    assert {p.name for p in busy.processes} == {"VLLMWorker_TP"}


def test_a2_hbm_and_a3_dual_chip_layouts() -> None:
    a2 = parse_npu_smi_info(rec(A2))
    assert a2.chips[0].device is None and a2.chips[0].power_w == 94.3
    assert (a2.chips[0].hbm_used_mb, a2.chips[0].hbm_total_mb) == (4487, 65536)
    a3 = parse_npu_smi_info(rec(A3))
    assert [len(npu.chips) for npu in a3.npus] == [2] * 8
    assert a3.chips[1].power_w is None and [c.device for c in a3.chips] == list(range(16))


def test_950_layout_reads_its_npu_id_column() -> None:
    table = parse_npu_smi_info(rec(A950))
    [chip] = table.chips
    assert (chip.npu_id, chip.chip, chip.name, chip.health) == (0, 0, "xxx", "OK")
    assert (chip.hbm_used_mb, chip.hbm_total_mb, chip.bus_id) == (4439, 86016, "0000:91:00.0")


def test_empty_or_foreign_output_is_refused() -> None:
    with pytest.raises(ParseError, match="npu-smi info printed nothing"):
        parse_npu_smi_info("\n")
    with pytest.raises(ParseError, match="no top border: 'command not found'"):
        parse_npu_smi_info("command not found\n")


def test_unknown_header_is_named() -> None:
    text = rec(A2).replace("AICore(%)  ", "Util(%)    ")
    with pytest.raises(ParseError, match=r"line 5 .*unknown layout: second header row"):
        parse_npu_smi_info(text)


# --------------------------------------------------------------------------- altered copies


def _set_health(text: str, npu: int, health: str) -> str:
    """The recorded A2 table with NPU `npu`'s Health cell set to `health`."""
    row = re.compile(rf"^(\| {npu}\s+910B3\s+\| )(\S+)(\s*)\|", re.MULTILINE)
    return row.sub(lambda m: m[1] + health.ljust(len(m[2] + m[3])) + "|", text, count=1)


@pytest.mark.parametrize("health", ["Error", "ALARM", "Abnormal", "Warning", "ok", "UNKNOWN"])
def test_any_health_value_keeps_its_chip(health: str) -> None:
    table = parse_npu_smi_info(_set_health(rec(A2), 3, health))
    assert table.chip_count == 8 and table.chips[3].health == health


def test_a_chip_row_without_its_bus_row_is_refused() -> None:
    lines = rec(A2).splitlines(keepends=True)
    bus = next(i for i, line in enumerate(lines) if "0000:82:00.0" in line)
    with pytest.raises(ParseError, match=r"after the chip row of NPU 3 chip 0\): no bus row"):
        parse_npu_smi_info("".join(lines[:bus] + lines[bus + 1 :]))


def test_a_partial_row_in_the_middle_is_refused() -> None:
    lines = rec(DUO).splitlines(keepends=True)
    lines[16] = lines[16][:45] + "\n"
    with pytest.raises(
        ParseError,
        match=r"line 17 \(after the chip row of NPU 96 chip 1\): "
        "bus row is 45 wide, the table 106",
    ):
        parse_npu_smi_info("".join(lines))


def test_a_chip_listed_twice_and_a_process_on_no_chip_are_refused() -> None:
    twice = rec(DUO).replace(
        "| 1       1                     | 0000:01:00.0 ",
        "| 0       1                     | 0000:01:00.0 ",
    )
    with pytest.raises(ParseError, match=r"line 11 .*chip 1 of NPU 0 says chip 0"):
        parse_npu_smi_info(twice)
    nowhere = rec(DUO).replace(
        "| 0       1                     | 326430  ", "| 0       2                     | 326430  "
    )
    with pytest.raises(ParseError, match="process on chip 2, which NPU 0 does not have"):
        parse_npu_smi_info(nowhere)


def test_a_missing_closing_border_is_noticed() -> None:
    text = rec(A2).rstrip("\n").rsplit("\n", 1)[0] + "\n"
    with pytest.raises(ParseError, match="ends inside the processes of NPU 7: no border after"):
        parse_npu_smi_info(text)


def test_a_missing_process_entry_is_noticed() -> None:
    lines = rec(A3).splitlines(keepends=True)
    entry = next(i for i, line in enumerate(lines) if "processes found in NPU 5 " in line)
    text = "".join(lines[:entry] + lines[entry + 2 :])  # NPU 5's entry and its border
    with pytest.raises(ParseError, match="process entry of NPU 6 where NPU 5's was due"):
        parse_npu_smi_info(text)


# --------------------------------------------------------------------------- key : value tools


def test_board_views_indented_or_not() -> None:
    a2 = npu_tools.parse_board(rec(A2_BOARD), 0)
    assert (a2.version("Software Version"), a2.version("Firmware Version")) == (
        "25.5.1",
        "7.8.0.6.201",
    )
    assert a2.require("PCIe Bus Info") == "0000:C1:00.0" and a2.require("PCI Device ID") == "0xD802"
    duo = npu_tools.parse_board(rec(DUO_BOARD), 2944)
    assert duo.require("Chip Count") == "2" and duo.require("Compatibility") == "OK"
    chip = npu_tools.parse_board(rec(CHIP_BOARD), 0, 0)
    assert chip.values == {
        "NPU ID": "0",
        "Chip ID": "0",
        "Chip Type": "Ascend",
        "Chip Name": "910B4",
    }


def test_board_must_describe_the_npu_asked_and_have_the_key() -> None:
    with pytest.raises(ParseError, match=r"`npu-smi info -t board -i 3`: describes NPU 0"):
        npu_tools.parse_board(rec(A2_BOARD), 3)
    with pytest.raises(ParseError, match="no 'Software Version' line"):
        npu_tools.parse_board(rec(CHIP_BOARD), 0, 0).version("Software Version")
    error = rec(
        "npu-smi_info_-i_0_-t_board_error-Invalid-card-id_910A_23.0.7_mind-cluster-"
        "faultdiag-testfixture.txt"
    )
    with pytest.raises(ParseError, match="no 'NPU ID' line"):
        npu_tools.parse_board(error, 0)


def test_anonymised_version_is_not_a_version() -> None:
    board = npu_tools.parse_board(
        rec("npu-smi_info_-t_board_-i_0_Ascend950-D806_hicann-driver-doc_INDENTED.txt"), 0
    )
    with pytest.raises(ParseError, match="'Software Version' is 'xxx', not a version"):
        board.version("Software Version")


VERSION_FILES = {
    "driver_version.info_24.1.rc2.2_MindIE-800I-A2-host.txt": "24.1.rc2.2",
    "driver_version.info_25.0.rc1.1_Atlas800IA2-910B4.txt": "25.0.rc1.1",
    "driver_version.info_23.0.7_910A_mind-cluster-faultdiag-testfixture.txt": "23.0.7",
    "driver_version.info_24.1.rc3_910B4_zero-dce-mindie-notes.txt": "24.1.rc3",
    "driver_version.info_25.0.rc1.1_fw-compat-6.4+7.x_AISpaceWings-deploy-notes.txt": "25.0.rc1.1",
    "firmware_version.info_7.1.0.11.220_23.0.7_910A_mind-cluster-faultdiag-testfixture.txt": "7.1.0.11.220",
    "firmware_version.info_7.5.0.1.129_24.1.rc3_910B4_zero-dce-mindie-notes.txt": "7.5.0.1.129",
    "firmware_version.info_7.7.0.1.231_25.0.rc1.1_AISpaceWings-deploy-notes.txt": "7.7.0.1.231",
    "firmware_version.info_7.7.0.1.231_25.0.rc1.1_Atlas800IA2-910B4_MindIE-2.1.RC1-notes.txt": "7.7.0.1.231",
}


@pytest.mark.parametrize("name", sorted(VERSION_FILES))
def test_version_info_files(name: str) -> None:
    info = npu_tools.parse_version_info(rec(name), name)
    assert info.version("Version") == VERSION_FILES[name]


KEY_VALUE_CASES = [  # (recording, parse, key)
    *[
        (name, lambda t, n=name: npu_tools.parse_version_info(t, n), "Version")
        for name in VERSION_FILES
    ],
    (A2_BOARD, lambda t: npu_tools.parse_board(t, 0), "Software Version"),
    (A2_BOARD, lambda t: npu_tools.parse_board(t, 0), "Firmware Version"),
    (DUO_BOARD, lambda t: npu_tools.parse_board(t, 2944), "Firmware Version"),
    (CHIP_BOARD, lambda t: npu_tools.parse_board(t, 0, 0), "Chip Name"),
]


@pytest.mark.parametrize(
    ("name", "parse", "key"), KEY_VALUE_CASES, ids=[f"{c[0][:40]}-{c[2]}" for c in KEY_VALUE_CASES]
)
def test_a_cut_key_value_output_gives_the_whole_value_or_an_error(name, parse, key) -> None:
    text = rec(name)
    truth = parse(text).require(key)
    for cut in _cuts(text):
        with contextlib.suppress(ParseError):
            assert parse(cut).require(key) == truth


HCCN = {
    "hccn_tool_-i_N_-link_-g_UP_mind-cluster-doc_INDENTED.txt": ("link status", "UP"),
    "hccn_tool_-g_-link_-i_0_-u_0_-p_4_DOWN_Ascend950_hicann-driver-doc.txt": (
        "link status",
        "DOWN",
    ),
    "hccn_tool_-i_N_-net_health_-g_Success_mind-cluster-doc_INDENTED.txt": (
        "net health status",
        "Success",
    ),
    "hccn_tool_-i_N_-net_health_-g_Fault_mind-cluster-resumable-training-doc_INDENTED.txt": (
        "net health status",
        "Fault",
    ),
    "hccn_tool_-i_N_-net_health_-g_Init_mind-cluster-faultdiag-doc_INDENTED.txt": (
        "net health status",
        "Init",
    ),
    "hccn_tool_-i_0_-net_health_-g_Socket-failed_910A_mind-cluster-faultdiag-testfixture.txt": (
        "net health status",
        "Socket failed",
    ),
}


@pytest.mark.parametrize("name", sorted(HCCN))
def test_hccn_tool_status(name: str) -> None:
    key, value = HCCN[name]
    assert npu_tools.parse_hccn_status(rec(name), key) == value
    with pytest.raises(ParseError, match=f"no '{key}' line"):
        npu_tools.parse_hccn_status(rec(name).rstrip("\n"), key)  # its only line, unterminated


def test_hccn_tool_addresses() -> None:
    one = npu_tools.parse_hccn_ip(rec("hccn_tool_-i_3_-ip_-g_910B1_arthurchiao-blog.txt"))
    assert one == npu_tools.HccnAddress("29.1.112.213", "255.255.0.0")
    loop = rec("hccn_tool_-i_0..7_-ip_-g_loop_Atlas800IA2_MindIE-LLM-multinode-doc_INDENTED.txt")
    lines = loop.splitlines(keepends=True)
    assert npu_tools.parse_hccn_ip("".join(lines[14:16])).ipaddr == "10.10.100.17"
    with pytest.raises(ParseError, match="no 'netmask' line"):
        npu_tools.parse_hccn_ip(lines[0])
    with pytest.raises(ParseError, match="'ipaddr' given twice"):
        npu_tools.parse_hccn_ip(loop)


def test_hccn_tls_settings_of_the_device_asked() -> None:
    mixed = rec("hccn_tool_-i_0..1_-tls_-g_grep-switch_mixed-0-1_hccl-param-link-doc_INDENTED.txt")
    assert npu_tools.parse_hccn_tls(mixed, 0) == {
        "tls switch": "0",
        "tls preconfigured": "1",
        "tls alarm time threshold": "60",
    }
    assert npu_tools.parse_hccn_tls(mixed, 1)["tls switch"] == "1"
    certs = rec(
        "hccn_tool_-i_0..7_-tls_-g_loop_certs_hccl-cluster-info-verify-doc_TRUNCATED_INDENTED.txt"
    )
    assert npu_tools.parse_hccn_tls(certs, 1) == {
        "tls switch": "0",
        "tls alarm time threshold": "60",
    }
    with pytest.raises(ParseError, match=r"no 'dev_id:2, tls switch\[...\]' line"):
        npu_tools.parse_hccn_tls(certs, 2)  # the doc cut the loop after device 1
    a950 = rec("hccn_tool_-g_-tls_-i_0_Ascend950_with-subject-expiration_hicann-driver-doc.txt")
    assert npu_tools.parse_hccn_tls(a950, 0)["tls preconfigured"] == "0"


# --------------------------------------------------------------------------- chip family


def _named(name: str, chip_name: str | None) -> str:
    """A recorded table, its anonymised "xxx" names replaced (the cells keep their width)."""
    text = rec(name)
    return (
        text if chip_name is None else text.replace("xxx" + " " * (len(chip_name) - 3), chip_name)
    )


def _families(name: str, chip_name: str | None = None) -> list[list[str]]:
    table = parse_npu_smi_info(_named(name, chip_name))
    return [[f.key for f in chips.families_of(e)] for e in chips.evidence_of(table, {}, {})]


@pytest.mark.parametrize(
    ("name", "chip_name", "family"),
    [
        (DUO, None, "310P3"),
        (A2, None, "910B"),
        (WIDE, None, "910B"),
        (BLOG_910B4, None, "910B"),
        (BUSY_910B4, None, "910B"),
        (A3, None, "910_93"),
        (FIRST_GEN, "910A", "910"),  # anonymised "xxx" in the recording
    ],
)
def test_chip_family_of_each_recorded_table(name: str, chip_name: str | None, family: str) -> None:
    assert {tuple(f) for f in _families(name, chip_name)} == {(family,)}


def test_first_gen_910_named_910b_is_told_by_its_memory() -> None:
    # "910B" fits both name rules; DDR in use (15137 MB) and HBM 32768 MB say first-gen
    assert {tuple(f) for f in _families(FIRST_GEN, "910B")} == {("910",)}


def test_conflicting_evidence_fits_no_family() -> None:
    table = parse_npu_smi_info(_named(FIRST_GEN, "910B"))
    evidence = chips.evidence_of(table, {0: "0xD802"}, {})[0]  # an A2 board, a 910's memory
    assert chips.families_of(evidence) == []
    assert "PCI Device ID 0xD802" in evidence.describe()


def test_evidence_two_families_agree_on_is_ambiguous() -> None:
    table = parse_npu_smi_info(rec(A2))
    evidence = chips.evidence_of(table, {}, {})[0]
    loose = (
        chips.family("910B"),
        chips.Family("910X", "a look-alike", re.compile("910B3"), ("classic",), lambda c: True),
    )
    assert [f.key for f in chips.families_of(evidence, loose)] == ["910B", "910X"]
