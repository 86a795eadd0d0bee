"""Fleet inventories: Ansible reads them (INI or YAML), the fleet validates every unit against
the catalog before anything runs, and each unit's argv is built from the validated data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.errors import SuiteError
from deploy_helpers.fleet import command
from deploy_helpers.fleet.inventory import read_units, units_of

REPO = Path(__file__).resolve().parent.parent

RACK = {
    "all": {
        "children": {
            "duo": {
                "vars": {"suite_model": "qwen2.5-7b", "suite_hardware": "atlas-300i-duo"},
                "hosts": {
                    "duo-01": {"ansible_host": "10.0.0.11"},
                    "duo-02": {"ansible_host": "10.0.0.12", "suite_weights_root": "/data/weights"},
                },
            },
            "a2_pairs": {
                "vars": {
                    "suite_model": "deepseek-v3.1-w8a8",
                    "suite_hardware": "atlas-a2",
                    "suite_args": ["suites/test_completions.py", "-m", "not perf"],
                    "suite_options": ["--nic", "enp189s0f0"],
                },
                "hosts": {
                    "a2-01": {"ansible_host": "10.0.1.1", "suite_nodes": ["10.0.1.1", "10.0.1.2"]}
                },
            },
        }
    }
}

INI = """\
[duo]
duo-01 ansible_host=10.0.0.11
duo-02 ansible_host=10.0.0.12 suite_weights_root=/data/weights

[duo:vars]
suite_model=qwen2.5-7b
suite_hardware=atlas-300i-duo

[a2_pairs]
a2-01 ansible_host=10.0.1.1 suite_nodes='["10.0.1.1", "10.0.1.2"]'

[a2_pairs:vars]
suite_model=deepseek-v3.1-w8a8
suite_hardware=atlas-a2
suite_args=["suites/test_completions.py", "-m", "not perf"]
suite_options=["--nic", "enp189s0f0"]
"""


def _write(tmp_path: Path, inventory: dict) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def _units(hosts: dict, group_vars: dict | None = None, model: str | None = None) -> list:
    listing = {
        "_meta": {"hostvars": {h: {**(group_vars or {}), **v} for h, v in hosts.items()}},
        "all": {"children": ["g"]},
        "g": {"hosts": list(hosts)},
    }
    return units_of(listing, load_catalog(), model)


@pytest.mark.parametrize("form", ["yaml", "ini"])
def test_groups_map_to_profiles_and_a_pair_is_one_unit(tmp_path: Path, form: str) -> None:
    if form == "ini":
        path = tmp_path / "inventory.ini"
        path.write_text(INI)
    else:
        path = _write(tmp_path, RACK)
    units = read_units(path)
    assert [(u.name, u.group, u.target_id) for u in units] == [
        ("duo-01", "duo", "qwen2.5-7b@atlas-300i-duo"),
        ("duo-02", "duo", "qwen2.5-7b@atlas-300i-duo"),
        ("a2-01", "a2_pairs", "deepseek-v3.1-w8a8@atlas-a2"),
    ]
    duo, duo2, pair = units
    assert duo.node_addresses() == ["10.0.0.11"] and duo.suite_args == ["suites/"]
    assert duo2.weights_root == "/data/weights"
    assert pair.node_addresses() == ["10.0.1.1", "10.0.1.2"]
    serve = command.stage_args(pair, "serve", None)
    assert serve[:6] == [
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "suites/test_completions.py",
        "-m",
    ]
    assert serve[-8:] == [
        "--hardware",
        "atlas-a2",
        "--node-ip",
        "10.0.1.1",
        "--node-ip",
        "10.0.1.2",
        "--nic",
        "enp189s0f0",
    ]
    assert "--ignore" in serve and "suites/test_host.py" in serve
    preflight = command.stage_args(duo2, "preflight", "/cat")
    assert preflight[4:6] == list(command.PREFLIGHT_FILES)
    assert preflight[-4:] == ["--weights-root", "/data/weights", "--catalog", "/cat"]


def test_limit_selects_units(tmp_path: Path) -> None:
    units = read_units(_write(tmp_path, RACK), limit="a2_pairs")
    assert [u.name for u in units] == ["a2-01"]
    with pytest.raises(SuiteError, match="lists no hosts"):
        read_units(_write(tmp_path, RACK), limit="nothing-matches")


def test_model_option_qualifies_it_on_every_unit() -> None:
    (unit,) = _units({"h": {"suite_hardware": "cpu"}}, model="smollm2-135m")
    assert unit.target_id == "smollm2-135m@cpu"


@pytest.mark.parametrize(
    ("hostvars", "message"),
    [
        (
            {"suite_hardware": "cpu"},
            r"unit h \(group g\): no suite_model: set it on its group or "
            r"pass --model",
        ),
        (
            {"suite_model": "smollm2-135m"},
            r"unit h \(group g\): no suite_hardware: set it on its "
            r"group to a catalog hardware profile \(atlas-300i-duo",
        ),
        (
            {"suite_model": "nope", "suite_hardware": "cpu"},
            r"unit h \(group g\): unknown model "
            r"'nope'; valid models:",
        ),
        (
            {"suite_model": "smollm2-135m", "suite_hardware": "tpu"},
            r"unknown hardware 'tpu' \(did you mean 'cpu'\?\); valid profiles:",
        ),
        (
            {"suite_model": "qwen2.5-7b", "suite_hardware": "cpu"},
            r"model 'qwen2.5-7b' has no deployment on 'cpu'",
        ),
        (
            {"suite_model": "smollm2-135m", "suite_hardware": "cpu-two-node"},
            r"cpu-two-node runs on 2 nodes: set suite_nodes to their 2 addresses in rank order, "
            r"head first \(got 0\)",
        ),
        (
            {
                "suite_model": "smollm2-135m",
                "suite_hardware": "cpu-two-node",
                "suite_nodes": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            },
            r"\(got 3\)",
        ),
        (
            {"suite_model": "smollm2-135m", "suite_hardware": "cpu", "suite_nodes": ["a", "b"]},
            r"cpu is a one-node profile but suite_nodes lists 2 nodes",
        ),
        (
            {"suite_model": "smollm2-135m", "suite_hardware": "cpu", "suite_args": "suites/"},
            r"unit h: suite_args must be a list of strings \(got 'suites/'\)",
        ),
        (
            {
                "suite_model": "smollm2-135m",
                "suite_hardware": "cpu",
                "suite_args": ["suites/test_host.py"],
            },
            r"names suites/test_host.py, which the preflight "
            r"stage runs on every unit already",
        ),
        (
            {
                "suite_model": "smollm2-135m",
                "suite_hardware": "cpu",
                "suite_weights_root": "{{ lookup('env', 'W') }}",
            },
            r"suite_weights_root is a template .*: the fleet reads it before Ansible runs",
        ),
        (
            {"suite_model": "smollm2-135m", "suite_hardware": "cpu", "suite_weights_root": 3},
            r"suite_weights_root must be a path \(got 3\)",
        ),
    ],
)
def test_a_bad_unit_is_one_line_naming_it(hostvars: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message) as caught:
        _units({"h": hostvars})
    assert "\n" not in str(caught.value)


def test_an_unfit_name_and_a_shared_node_are_refused() -> None:
    cpu = {"suite_model": "smollm2-135m", "suite_hardware": "cpu"}
    with pytest.raises(SuiteError, match=r"unit a b \(group g\): inventory host names"):
        _units({"a b": cpu})
    with pytest.raises(SuiteError, match=r"node 10.0.0.1 belongs to two units \(x and y\)"):
        _units({"x": {**cpu, "ansible_host": "10.0.0.1"}, "y": {**cpu, "ansible_host": "10.0.0.1"}})


def test_a_missing_or_unparsable_inventory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such file or folder"):
        read_units(tmp_path / "absent.yml")
    broken = tmp_path / "broken.ini"
    broken.write_text("[group\nhost ansible_host=\n")
    with pytest.raises(SuiteError, match=r"broken.ini: Ansible cannot read it: ") as caught:
        read_units(broken)
    assert "\n" not in str(caught.value)


def test_cli_bad_inventory_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = _write(
        tmp_path, {"all": {"hosts": {"h": {"suite_hardware": "cpu", "suite_model": "nope"}}}}
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deploy_helpers",
            "fleet",
            "run",
            "-i",
            str(path),
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: unit h (group ungrouped): unknown model 'nope'")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists(), "a rejected inventory must run nothing"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--serial", "0"], "a number of units"),
        (["--serial", "110%"], "a number of units"),
        (["--max-fail-percentage", "101"], "a whole percentage"),
        (["--forks", "0"], "at least 1"),
    ],
)
def test_cli_bad_numbers_are_usage_errors(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deploy_helpers", "fleet", "run", "-i", "x", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_ansible_runs_with_the_shipped_config_and_no_secrets(monkeypatch) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "a-secret-value")
    monkeypatch.setenv("ANSIBLE_STDOUT_CALLBACK", "json")
    env = command.ansible_env("/tmp/ssh config", Path("/tmp/ev.jsonl"), Path("/tmp/ctl"))
    assert "VLLM_API_KEY" not in env and "ANSIBLE_STDOUT_CALLBACK" not in env
    assert env["ANSIBLE_CONFIG"] == str(command.ANSIBLE_CFG) and env["LC_ALL"] == "C.UTF-8"
    assert env["ANSIBLE_SSH_COMMON_ARGS"] == "-F '/tmp/ssh config'"
    assert env[command.EVENTS_ENV] == "/tmp/ev.jsonl"


def test_settings_reach_the_playbook_as_argv_and_vars(tmp_path: Path) -> None:
    units = _units({"h": {"suite_model": "smollm2-135m", "suite_hardware": "cpu"}})
    settings = command.Settings(forks=7, serial="25%", limit="h")
    argv = command.playbook_argv(Path("/inv.yml"), Path("/v.json"), settings)
    assert argv[1:] == [
        "-i",
        "/inv.yml",
        "--forks",
        "7",
        "-e",
        "@/v.json",
        "--limit",
        "h",
        str(command.PLAYBOOK),
    ]
    variables = command.extra_vars("id1", tmp_path, units, settings)
    assert variables["fleet_serial"] == "25%"
    assert variables["fleet_max_fail_percentage"] == 100  # unset: no batch can exceed it
    assert variables["fleet_units"]["h"]["preflight"][:2] == ["-m", "pytest"]
    assert variables["fleet_suite"] == command.identity_text(command.suite_identity())
    done = subprocess.run(
        [sys.executable, "-m", "deploy_helpers", "fleet", "version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == variables["fleet_suite"]


def test_the_playbook_names_what_the_gatherer_reads() -> None:
    from deploy_helpers.fleet import events

    plays = yaml.safe_load(command.PLAYBOOK.read_text())
    assert [p["name"] for p in plays] == [events.PREFLIGHT, events.SERVE]
    names = [t["name"] for t in plays[0]["tasks"]]
    assert names[1:4] == [events.REACHABLE, events.SUITE_PRESENT, events.VERSION_MATCHES]
    stage = yaml.safe_load((command.PACKAGE / "stage.yml").read_text())
    inner = [t["name"] for t in stage[0]["block"] + stage[0]["always"]]
    assert events.SUITE_TASK in inner and events.LEFTOVERS_TASK in inner
