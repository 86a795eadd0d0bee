"""The twin's container runtime wrapper: which capabilities it drops, from which file."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_helpers.sim.twin.runc_caps import bounding_set, drop_missing, process_file

# this machine's CapBnd: every capability up to CHECKPOINT_RESTORE but SYS_RESOURCE (24)
STATUS = "Name:\tbash\nCapPrm:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n"


def test_bounding_set_reads_capbnd_bits_as_names() -> None:
    allowed = bounding_set(STATUS)
    assert "CAP_SYS_ADMIN" in allowed and "CAP_CHECKPOINT_RESTORE" in allowed
    assert "CAP_SYS_RESOURCE" not in allowed and len(allowed) == 40
    with pytest.raises(ValueError, match="no CapBnd line"):
        bounding_set("Name:\tbash\n")


def test_only_the_missing_capabilities_are_dropped_from_every_set() -> None:
    process = {
        "capabilities": {
            "bounding": ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"],
            "effective": ["CAP_SYS_RESOURCE", "CAP_NET_ADMIN"],
        }
    }
    assert drop_missing(process, bounding_set(STATUS)) == ["CAP_SYS_RESOURCE"]
    assert process["capabilities"] == {
        "bounding": ["CAP_SYS_ADMIN"],
        "effective": ["CAP_NET_ADMIN"],
    }
    full = {"capabilities": {"bounding": ["CAP_SYS_ADMIN"]}}
    assert drop_missing(full, bounding_set(STATUS)) == [], "nothing to drop: unchanged"


def test_process_file_of_create_and_exec_command_lines() -> None:
    create = ["--root", "/r", "create", "--bundle", "/b", "--pid-file", "/p", "id"]
    assert process_file(create) == (Path("/b/config.json"), True)
    assert process_file(["run", "-b", "/c", "id"]) == (Path("/c/config.json"), True)
    exec_line = ["--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"]
    assert process_file(exec_line) == (Path("/tmp/p.json"), False)
    assert process_file(["--root", "/r", "delete", "id"]) is None


def test_the_engine_shims_read_avx512_from_cpuinfo(tmp_path: Path) -> None:
    from deploy_helpers.sim.engines.ascend_twin import has_avx512

    avx512, avx2 = tmp_path / "avx512", tmp_path / "avx2"
    avx512.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw\n")
    avx2.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512_bf16_absent\n")
    assert has_avx512(str(avx512)) and not has_avx512(str(avx2))
    assert not has_avx512(str(tmp_path / "absent")), "unreadable: the safe (float32) side"
