"""The catalog: shipped data valid and complete, malformed data named in one line, CLI errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy_helpers.catalog.loader import DEFAULT_CATALOG, CatalogError, load_catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.serve.plan import graph_mode_names

REPO = Path(__file__).resolve().parent.parent
# seed 000 §1 (模型支持情况), typed from the guide: family -> sizes supported on the 300I Duo
SEED_000_SUPPORTED = {"qwen2.5": ["3B", "7B", "14B", "32B"], "qwen3": ["4B", "8B", "14B", "32B"]}
# 支持中 (in progress), with what names such a checkpoint: MoE checkpoints are "A<n>B"
SEED_000_IN_PROGRESS = {"Qwen3-MoE": ("Qwen/Qwen3-", "-A3B"), "Qwen2.5-VL": ("Qwen/Qwen2.5-VL-",)}
SEED_003_MODEL = ("deepseek", "w8a8", "atlas-a2")  # seed 003: DeepSeek-V3.1-w8a8 on two A2


def run(*argv: str) -> subprocess.CompletedProcess:
    """Run a command from the repo root, capturing its output."""
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)


def collect(*args: str, suites: str = "suites/") -> subprocess.CompletedProcess:
    """`pytest SUITES --collect-only -q ARGS` from the repo root."""
    return run(
        sys.executable,
        "-m",
        "pytest",
        suites,
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        *args,
    )


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalog."""
    dest = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG, dest, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dest


def test_shipped_catalog_covers_every_seed_model() -> None:
    # the seeds' model lists, not the catalog's file names: adding a model needs no code
    catalog = load_catalog()
    on_duo = {
        (m.family, m.size_class)
        for m in catalog.models.values()
        if m.status == "supported"
        for d in m.deployments
        if d.hardware == "atlas-300i-duo"
    }
    for family, sizes in SEED_000_SUPPORTED.items():
        missing = [s for s in sizes if (family, s) not in on_duo]
        assert not missing, f"seed 000 §1 supports {family} {missing} on the 300I Duo"
    in_progress = [
        m.source.huggingface or "" for m in catalog.models.values() if m.status == "in-progress"
    ]
    for name, parts in SEED_000_IN_PROGRESS.items():
        assert any(all(part in h for part in parts) for h in in_progress), (
            f"seed 000 §1: {name} is in progress: the catalog needs it as status in-progress"
        )
    family, quantization, hardware = SEED_003_MODEL
    assert any(
        m.family == family
        and m.quantization == quantization
        and any(d.hardware == hardware for d in m.deployments)
        for m in catalog.models.values()
    ), "seed 003: DeepSeek-V3.1-w8a8 on two A2"


def test_a_new_model_is_one_yaml_file(catalog_copy: Path) -> None:
    (catalog_copy / "models" / "qwen3-1.7b.yaml").write_text(
        "name: qwen3-1.7b\nfamily: qwen3\nsource: {huggingface: Qwen/Qwen3-1.7B}\n"
        "parameters_b: 1.72\nsize_class: 4B\nweights_gib: 3.4\ndtype: bfloat16\n"
        "deployments:\n  - {hardware: atlas-300i-duo, tensor_parallel: 1}\n"
    )
    model = load_catalog(catalog_copy).models["qwen3-1.7b"]
    # the family and the profile give it everything else
    assert model.chat.thinking.kwarg == "enable_thinking" and model.golden_prompts
    (deployment,) = model.deployments
    assert deployment.robustness["storm_streams"] == 200 and deployment.perf
    assert [i.check for i in deployment.known_issues] == ["test_seed_*"]
    done = collect(
        "--catalog",
        str(catalog_copy),
        "--model",
        "qwen3-1.7b",
    )
    assert done.returncode == 0 and "[qwen3-1.7b@atlas-300i-duo" in done.stdout, done.stderr


def test_deployment_keys_override_profile_defaults_and_issues_add_up(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "qwen3-8b.yaml"
    path.write_text(
        path.read_text()
        + (
            "    robustness: {storm_streams: 10}\n"
            "    known_issues:\n      - {check: test_x, kind: xfail, failure: boom, reason: r}\n"
        )
    )
    (deployment,) = load_catalog(catalog_copy).models["qwen3-8b"].deployments
    # mappings merge key by key (the deployment's keys win), as with `extends`
    assert deployment.robustness == {"storm_streams": 10, "short_after_storm_s": 5.0}
    assert [i.check for i in deployment.known_issues] == ["test_seed_*", "test_x"]


def test_seed_facts_are_data() -> None:
    catalog = load_catalog()
    duo = catalog.hardware["atlas-300i-duo"]
    assert duo.drivers.driver == "24.1.rc3" and duo.drivers.firmware == "7.5.0.1.129"
    assert duo.dtypes == ["float16"] and duo.tensor_parallel_choices == [1, 2, 4]
    assert duo.gpu_memory_utilization_by_size == {
        "32B": 0.8,
        "14B": 0.5,
        "8B": 0.3,
        "7B": 0.3,
        "4B": 0.3,
        "3B": 0.3,
    }
    a2 = catalog.hardware["atlas-a2"]
    assert a2.container.image["aarch64"] == "quay.io/ascend/vllm-ascend:v0.11.0rc0"
    assert a2.nodes == 2 and a2.devices_per_node == 8
    deepseek = catalog.models["deepseek-v3.1-w8a8"]
    assert deepseek.chat.tool_call_parser == "deepseek_v31"
    assert deepseek.chat.thinking.kwarg == "thinking" and not deepseek.chat.thinking.default
    assert catalog.models["qwen3-8b"].chat.thinking.kwarg == "enable_thinking"


def test_bad_yaml_names_file_and_line(catalog_copy: Path) -> None:
    bad = catalog_copy / "models" / "qwen3-8b.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(CatalogError, match=r"qwen3-8b\.yaml: line \d+: not valid YAML"):
        load_catalog(catalog_copy)


def test_wrong_type_names_file_key_and_expectation(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "qwen3-8b.yaml"
    path.write_text(path.read_text().replace("parameters_b: 8.19", "parameters_b: eight"))
    with pytest.raises(
        CatalogError,
        match=r"qwen3-8b\.yaml: parameters_b: Input should be a "
        r"valid number",
    ):
        load_catalog(catalog_copy)


def test_unknown_key_is_rejected(catalog_copy: Path) -> None:
    path = catalog_copy / "hardware" / "cpu.yaml"
    path.write_text(path.read_text() + "gpu_count: 3\n")
    with pytest.raises(CatalogError, match=r"cpu\.yaml: gpu_count: Extra inputs are not permitted"):
        load_catalog(catalog_copy)


def test_unknown_hardware_reference_is_rejected(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "smollm2-135m.yaml"
    path.write_text(path.read_text().replace("hardware: cpu", "hardware: tpu-v9"))
    with pytest.raises(CatalogError, match="unknown hardware 'tpu-v9'"):
        load_catalog(catalog_copy)


def test_tp_outside_profile_choices_is_rejected(catalog_copy: Path) -> None:
    path = catalog_copy / "models" / "qwen2.5-14b.yaml"
    path.write_text(path.read_text().replace("tensor_parallel: 4", "tensor_parallel: 3"))
    with pytest.raises(CatalogError, match=r"tensor_parallel 3 not in \[1, 2, 4\]"):
        load_catalog(catalog_copy)


def test_waiver_without_expiry_is_rejected(catalog_copy: Path) -> None:
    path = catalog_copy / "hardware" / "atlas-300i-duo.yaml"
    path.write_text(path.read_text().replace("      expires: 2027-06-30\n", ""))
    with pytest.raises(CatalogError, match="a waiver needs an 'expires' date"):
        load_catalog(catalog_copy)


def test_extending_profile_overrides_mappings_key_by_key(catalog_copy: Path) -> None:
    catalog = load_catalog(catalog_copy)
    container, base = catalog.hardware["cpu-two-node-container"], catalog.hardware["cpu-two-node"]
    assert container.launcher == "ssh-container" and container.container.name == "vllm-cpu-dp"
    assert container.serve == base.serve and container.env_per_node == base.env_per_node
    path = catalog_copy / "hardware" / "cpu-two-node-container.yaml"
    path.write_text(path.read_text() + "serve:\n  env: {VLLM_CPU_KVCACHE_SPACE: '3'}\n")
    serve = load_catalog(catalog_copy).hardware["cpu-two-node-container"].serve
    assert serve.env == {"VLLM_CPU_KVCACHE_SPACE": "3"} and serve.args == base.serve.args


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("extends: cpu-two-node", "extends: tpu-pod"),
            r"cpu-two-node-container\.yaml: extends: expected the name of another entry in "
            r"hardware/, got 'tpu-pod'",
        ),
        (
            ("extends: cpu-two-node", "extends: cpu-two-node-container"),
            r"extends: cycle cpu-two-node-container -> cpu-two-node-container",
        ),
        (
            ("name: cpu-two-node-container\n", ""),
            r"name: an entry that extends 'cpu-two-node' needs its own name",
        ),
    ],
    ids=["unknown-parent", "cycle", "no-own-name"],
)
def test_bad_extends_is_named(catalog_copy: Path, edit: tuple[str, str], message: str) -> None:
    path = catalog_copy / "hardware" / "cpu-two-node-container.yaml"
    path.write_text(path.read_text().replace(*edit))
    with pytest.raises(CatalogError, match=message):
        load_catalog(catalog_copy)


def test_extends_cycle_through_two_entries_is_named(catalog_copy: Path) -> None:
    path = catalog_copy / "hardware" / "cpu-two-node.yaml"
    path.write_text("extends: cpu-two-node-container\n" + path.read_text())
    with pytest.raises(
        CatalogError,
        match=r"extends: cycle cpu-two-node-container -> "
        r"cpu-two-node -> cpu-two-node-container",
    ):
        load_catalog(catalog_copy)


def test_multi_node_profile_without_join_evidence_is_rejected(catalog_copy: Path) -> None:
    path = catalog_copy / "hardware" / "atlas-a2.yaml"
    lines = [
        line
        for line in path.read_text().splitlines(keepends=True)
        if not line.lstrip().startswith("worker_join_log:")
    ]
    path.write_text("".join(lines))
    with pytest.raises(
        CatalogError,
        match=r"atlas-a2\.yaml: .*a profile of 2 nodes needs "
        r"serve\.worker_join_log",
    ):
        load_catalog(catalog_copy)


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(Exception, match=r"unknown model 'gpt-9'; valid models: deepseek"):
        resolve_target(load_catalog(), "gpt-9")


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(
        Exception,
        match=r"unknown model 'qwen2.5-14' \(did you mean "
        r"'qwen2.5-14b'\?\); valid models",
    ):
        resolve_target(load_catalog(), "qwen2.5-14")
    with pytest.raises(
        Exception,
        match=r"unknown hardware 'cpu-contaner' \(did you mean "
        r"'cpu-container'\?\)",
    ):
        resolve_target(load_catalog(), "smollm2-135m", "cpu-contaner")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "gpt-9"], "ERROR: unknown model 'gpt-9'; valid models:"),
        (["--model", "qwen3-8b", "--hardware", "h100"], "ERROR: unknown hardware 'h100'"),
        (["--model", "qwen3-8b", "--hardware", "cpu"], "has no deployment on 'cpu'"),
        (["--model", "qwen3-moe"], "is in-progress upstream"),
        ([], "choose what to qualify: --model NAME"),
        (
            ["--endpoint", "http://127.0.0.1:9", "--model", "qwen3-8b", "--model", "qwen3-4b"],
            "--endpoint needs exactly one --model",
        ),
    ],
)
def test_bad_selection_is_one_line_usage_error(args: list[str], message: str) -> None:
    done = run(sys.executable, "-m", "pytest", "suites/", "-p", "no:cacheprovider", *args)
    assert done.returncode == 4, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_malformed_catalog_option_is_usage_error(catalog_copy: Path) -> None:
    (catalog_copy / "hardware" / "cpu.yaml").write_text("- just a list\n")
    done = run(
        sys.executable,
        "-m",
        "pytest",
        "suites/",
        "-p",
        "no:cacheprovider",
        "--catalog",
        str(catalog_copy),
        "--model",
        "smollm2-135m",
    )
    assert done.returncode == 4
    assert "cpu.yaml: top level: expected a mapping" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_unreachable_endpoint_fails_with_one_line(tmp_path: Path) -> None:
    done = run(
        sys.executable,
        "-m",
        "pytest",
        "suites/test_completions.py",
        "-p",
        "no:cacheprovider",
        "--endpoint",
        "http://127.0.0.1:9",
        "--model",
        "smollm2-135m",
        "--junitxml",
        str(tmp_path / "j.xml"),
    )
    assert done.returncode == 4, done.stdout + done.stderr  # before any test runs
    assert done.stderr.startswith("ERROR: endpoint http://127.0.0.1:9 unreachable (ConnectError")
    assert "Traceback" not in done.stdout + done.stderr


def test_list_models_shows_all_entries() -> None:
    done = run(sys.executable, "-m", "pytest", "suites/", "--list-models")
    assert done.returncode == 0
    for name in load_catalog().models:
        assert name in done.stdout


def test_collect_only_works_for_every_model_and_profile() -> None:
    catalog = load_catalog()
    # one collection for every model on its first profile, one per further profile
    runs: dict[str | None, list[str]] = {None: list(catalog.models)}
    for model in catalog.models.values():
        for dep in model.deployments[1:]:
            runs.setdefault(dep.hardware, []).append(model.name)
    for hardware, models in runs.items():
        done = collect(
            *(a for m in models for a in ("--model", m)),
            *(("--hardware", hardware) if hardware else ()),
        )
        where = hardware or "their first profiles"
        assert done.returncode == 0, f"{models} on {where}: {done.stderr}"
        for name in models:
            model = catalog.models[name]
            shown = hardware or model.deployments[0].hardware
            assert f"[{name}@{shown}" in done.stdout, f"{name}@{shown} collected no test"


@pytest.mark.parametrize(
    ("model", "switch", "torchair"),
    [("qwen3-8b", "enable_thinking", False), ("deepseek-v3.1-w8a8", "thinking", True)],
)
def test_collect_only_shows_switch_name_and_torchair_for_deepseek_only(
    model: str, switch: str, torchair: bool
) -> None:
    done = collect(
        "--model",
        model,
    )
    assert done.returncode == 0, done.stderr
    ids = done.stdout.splitlines()
    assert any(f"-{switch}-True]" in i for i in ids) and any(
        f"-{switch}-False]" in i for i in ids
    ), done.stdout
    assert any(i.endswith("-torchair]") for i in ids) == torchair, done.stdout


def test_torchair_is_offered_to_the_deepseek_family_only() -> None:
    target = resolve_target(load_catalog(), "deepseek-v3.1-w8a8")
    assert graph_mode_names(target) == ["aclgraph", "eager", "torchair"]
    qwen_on_a2 = dataclasses.replace(
        target, model=target.model.model_copy(update={"family": "qwen3"})
    )
    assert graph_mode_names(qwen_on_a2) == ["aclgraph", "eager"]


def test_catalog_json_cli() -> None:
    done = run(sys.executable, "-m", "deploy_helpers", "catalog", "--json")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert set(data["models"]) == set(load_catalog().models)


def test_catalog_cli_error_is_one_line(catalog_copy: Path) -> None:
    (catalog_copy / "models" / "bad.yaml").write_text("name: x\n")
    done = run(sys.executable, "-m", "deploy_helpers", "catalog", "--catalog", str(catalog_copy))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "bad.yaml" in done.stderr


def _collected(*args: str) -> list[str]:
    done = collect(*args, suites="suites/test_completions.py")
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_repeated_model_runs_once() -> None:
    once = _collected("--model", "smollm2-135m")
    assert once and _collected("--model", "smollm2-135m", "--model", "smollm2-135m") == once


def test_bad_perf_baseline_is_one_line_before_any_bring_up(tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("{not json")
    started = time.monotonic()
    done = run(
        sys.executable,
        "-m",
        "pytest",
        "suites/test_performance.py",
        "-p",
        "no:cacheprovider",
        "--model",
        "smollm2-135m",
        "--perf-baseline",
        str(bad),
        "--reports-dir",
        str(tmp_path / "reports"),
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.startswith(f"ERROR: --perf-baseline {bad}: not JSON")
    assert len(done.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30
    assert not list((tmp_path / "reports").glob("*/server-*.log")), "a server was started"


def test_readiness_timeout_option_overrides_the_profile(fake_engine_catalog, tmp_path) -> None:
    done = run(
        sys.executable,
        "-m",
        "pytest",
        "suites/test_completions.py",
        "-p",
        "no:cacheprovider",
        "-q",
        *fake_engine_catalog.args(),
        "--readiness-timeout",
        "0.2",
        "--reports-dir",
        str(tmp_path / "reports"),
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "service stage: server not serving after 0.2 s" in done.stdout, done.stdout[-3000:]
