"""Fleet runs for real: ansible-playbook against namespace hosts with sshd (the testbed), the
suite on each unit served by tests/faulty_server.py, so a unit's stage takes seconds.

One run has a passing unit, a unit whose suite is killed mid-run and an unreachable one;
another stops early on max_fail_percentage, with a unit whose suite is not the
controller's version and a two-node unit whose preflight reaches both nodes from its head.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from deploy_helpers.sim.testbed import existing
from tests.test_testbed import serve_faulty_server_on_each_node

REPO = Path(__file__).resolve().parent.parent


def _subnet(slot: int) -> str:
    """A /24 per test and xdist worker, apart from tests/test_testbed.py's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return f"10.241.{160 + 20 * int(worker.removeprefix('gw') or 0) + slot}"


def _name(slot: int) -> str:
    return f"tf{os.getpid() % 100000}{slot}"


def _fleet(
    tmp_path: Path, slot: int, nodes: int, down: list[int], inventory: dict, *args: str
) -> tuple[int, str, dict]:
    """Run `fleet run` inside a testbed; its exit code, output and fleet summary."""
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory, sort_keys=False))
    name = _name(slot)
    probe = (  # after the fleet, inside the testbed: what still runs on the hosts
        "import json, subprocess, sys\n"
        "from deploy_helpers.sim.testbed import namespace_pids\n"
        "code = subprocess.run(sys.argv[2:]).returncode\n"
        "left = {}\n"
        f"for i in range({nodes}):\n"
        f"    ns = '{name}-n' + str(i)\n"
        "    left[ns] = [open(f'/proc/{p}/cmdline', 'rb').read().decode(errors='replace')\n"
        "               for p in namespace_pids(ns)]\n"
        "open(sys.argv[1], 'w').write(json.dumps(left))\n"
        "sys.exit(code)\n"
    )
    down_args = [arg for n in down for arg in ("--down", str(n))]
    argv = [
        sys.executable,
        "-m",
        "deploy_helpers",
        "testbed",
        "run",
        "--nodes",
        str(nodes),
        "--name",
        name,
        "--subnet",
        _subnet(slot),
        *down_args,
        "--",
        sys.executable,
        "-c",
        probe,
        str(tmp_path / "left.json"),
        sys.executable,
        "-m",
        "deploy_helpers",
        "fleet",
        "run",
        "-i",
        str(inv),
        "--reports-dir",
        str(tmp_path / "reports"),
        *args,
    ]
    done = subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=500,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert existing(name) == [], "testbed left behind"
    output = done.stdout + done.stderr
    summary_path = tmp_path / "reports" / "fleet-latest" / "summary.json"
    assert summary_path.exists(), output[-4000:]
    left = json.loads((tmp_path / "left.json").read_text())
    for namespace, cmdlines in left.items():
        assert all("sshd" in c for c in cmdlines), f"left running in {namespace}: {cmdlines}"
    return done.returncode, output, json.loads(summary_path.read_text())


def _units(summary: dict) -> dict[str, dict]:
    return {u["name"]: u for u in summary["units"]}


@pytest.fixture
def fleet_catalog(fake_engine_catalog) -> tuple[Path, Path]:
    """A catalog whose cpu and cpu-two-node engines are the faulty server, and its weights."""
    serve_faulty_server_on_each_node(fake_engine_catalog.catalog, "cpu-two-node")
    return fake_engine_catalog.catalog, fake_engine_catalog.weights_root


def test_unreachable_and_crashed_units_are_named_and_the_others_pass(
    fleet_catalog, tmp_path: Path
) -> None:
    catalog, weights = fleet_catalog
    subnet = _subnet(1)
    inventory = {
        "all": {
            "vars": {
                "suite_model": "smollm2-135m",
                "suite_hardware": "cpu",
                "suite_weights_root": str(weights),
                "suite_args": ["suites/test_completions.py"],
            },
            "hosts": {
                "good": {"ansible_host": f"{subnet}.1"},
                # its pytest SIGKILLs itself at the first test: no report
                "crash": {
                    "ansible_host": f"{subnet}.2",
                    "suite_args": ["suites/test_completions.py", "-p", "tests.fleet_crash"],
                },
                "gone": {"ansible_host": f"{subnet}.3"},  # sshd stopped
            },
        }
    }
    code, output, summary = _fleet(tmp_path, 1, 3, [2], inventory, "--catalog", str(catalog))
    assert code == 1, output[-4000:]
    units = _units(summary)
    assert summary["verdict"] == "FAIL"
    assert units["good"]["verdict"] == "PASS", units["good"]
    assert units["good"]["stages"]["serve"]["counts"]["passed"] > 0
    gone = units["gone"]
    assert (gone["verdict"], gone["failure"]) == ("FAIL", "unreachable")
    assert f"ssh: connect to host {subnet}.3 port 22: Connection refused" in gone["reasons"][0]
    crash = units["crash"]
    assert (crash["verdict"], crash["failure"]) == ("FAIL", "never reported"), crash
    assert crash["stages"]["preflight"]["state"] == "passed"
    assert crash["reasons"][0].startswith(
        "the serve suite exited -9 (killed by SIGKILL) without writing its report"
    ), crash
    # its engine outlived the killed suite; the playbook found and stopped it
    assert any("tests.faulty_server" in line for line in crash["stages"]["serve"]["leftovers"])
    assert [r.split(":")[0] for r in summary["verdict_reasons"]] == ["crash", "gone"]
    assert "fleet verdict: FAIL" in output and "  gone: unreachable: " in output
    suites = ET.parse(tmp_path / "reports" / "fleet-latest" / "junit.xml").getroot()
    by_name = {s.get("name"): s for s in suites.findall("testsuite")}
    assert list(by_name) == ["good", "crash", "gone"]
    assert by_name["gone"].get("failures") == "1" and by_name["good"].get("failures") == "0"
    assert int(by_name["good"].get("tests")) > 1  # its stages' test cases and 'qualification'
    page = (tmp_path / "reports" / "fleet-latest" / "report.html").read_text()
    assert 'data-verdict="FAIL"' in page and 'data-unit-verdict="FAIL"' in page


def test_max_fail_percentage_stops_the_run_early(fleet_catalog, tmp_path: Path) -> None:
    catalog, weights = fleet_catalog
    subnet = _subnet(2)
    other_suite = tmp_path / "other-suite-python"  # answers `fleet version` for another build
    other_suite.write_text(
        '#!/bin/sh\necho \'{"git_commit":"0000000","uncommitted_sha256":null,"version":"0.0.9"}\'\n'
    )
    other_suite.chmod(0o755)
    single = {"suite_hardware": "cpu"}
    inventory = {
        "all": {
            "vars": {
                "suite_model": "smollm2-135m",
                "suite_weights_root": str(weights),
                "suite_args": ["suites/test_completions.py"],
            },
            "children": {
                "singles": {
                    "hosts": {
                        "ok": {"ansible_host": f"{subnet}.1", **single},
                        "noweights": {
                            "ansible_host": f"{subnet}.2",
                            **single,
                            "suite_weights_root": str(tmp_path / "absent"),
                        },
                        "oldsuite": {
                            "ansible_host": f"{subnet}.3",
                            **single,
                            "suite_python": str(other_suite),
                        },
                    }
                },
                "pairs": {
                    "vars": {
                        "suite_hardware": "cpu-two-node",
                        "suite_ssh_config": "{{ lookup('env', 'SUITE_SSH_CONFIG') }}",
                    },
                    "hosts": {
                        "pair": {
                            "ansible_host": f"{subnet}.4",
                            "suite_nodes": [f"{subnet}.4", f"{subnet}.5"],
                        }
                    },
                },
            },
        }
    }
    code, output, summary = _fleet(
        tmp_path, 2, 5, [], inventory, "--catalog", str(catalog), "--max-fail-percentage", "40"
    )
    assert code == 1, output[-4000:]
    units = _units(summary)
    assert (units["noweights"]["failure"], units["oldsuite"]["failure"]) == (
        "preflight failed",
        "suite version mismatch",
    )
    assert "refused its input: ERROR: --weights-root" in units["noweights"]["reasons"][0]
    assert "does not exist" in units["noweights"]["reasons"][0]
    assert "0.0.9" in units["oldsuite"]["reasons"][0]
    for name in ("ok", "pair"):  # their preflight passed; the run stopped before serving
        assert units[name]["stages"]["preflight"]["state"] == "passed", units[name]
        assert (units[name]["failure"], units[name]["stages"]["serve"]["state"]) == (
            "not run",
            "not run",
        )
        assert "over max_fail_percentage 40" in units[name]["reasons"][0], units[name]
    # the pair's host checks ran on both of its nodes, from its head
    pair_tests = json.loads(
        (
            tmp_path
            / "reports"
            / "fleet-latest"
            / units["pair"]["stages"]["preflight"]["run_dir"]
            / "summary.json"
        ).read_text()
    )["fingerprint"]["targets"]
    nodes = pair_tests["smollm2-135m@cpu-two-node"]["host_nodes"]
    assert sorted(nodes) == [f"node 0 ({subnet}.4)", f"node 1 ({subnet}.5)"]
    assert "serve" not in summary["timing"]["stages"]
