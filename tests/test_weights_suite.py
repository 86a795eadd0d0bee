"""suites/test_weights.py on real trees: clean passes, each fault fails its own check naming
the cause, the weights stage stops a bring-up in one line, and --endpoint deselects the
checks visibly."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_helpers.serve.plan import weights_path
from tests.weights_tree import (
    DEEPSEEK_BODY,
    SHARDS,
    flip_byte,
    make_tree,
    set_config,
    target_of,
    truncate,
)

ONLY = "test_weights_check"  # run_suites collects all of suites/: select the weights checks


def corrupt(root: Path) -> None:
    flip_byte(root / SHARDS[1])


def truncate_shard(root: Path) -> None:
    truncate(root / SHARDS[0])


def seven_b_config(root: Path) -> None:
    set_config(root, hidden_size=3584, num_hidden_layers=28)


# check -> (model, tree overrides, fault applied after the manifest, cause the failure names)
FAULTS = {
    "manifest": ("qwen3-8b", {}, corrupt, f"{SHARDS[1]}: sha256 mismatch (corrupted)"),
    "shards": ("qwen3-8b", {}, truncate_shard, f"{SHARDS[0]}: truncated: 1000 bytes"),
    "dtype": (
        "qwen3-8b",
        {"dtype": "bfloat16"},
        None,
        "config.json: torch_dtype is bfloat16, the hardware computes in float16",
    ),
    "quantization": (
        "deepseek-v3.1-w8a8",
        {"quantization_config": {"quant_method": "fp8"}, "description": None},
        None,
        "fp8 quantization, which this hardware does not compute",
    ),
    "identity": (
        "qwen3-8b",
        {},
        seven_b_config,
        "config.json: hidden_size is 3584, Qwen/Qwen3-8B publishes 4096",
    ),
    "tools_template": (
        "deepseek-v3.1-w8a8",
        {"template": DEEPSEEK_BODY},
        None,
        "chat_template has no tool-call section",
    ),
    "thinking_template": (
        "qwen3-8b",
        {"template": "{{ '<|im_start|>assistant\\n' }}"},
        None,
        "with enable_thinking=False the prompt ends",
    ),
}


def weights_args(root: Path, model: str) -> tuple[str, ...]:
    """Point the suite at weights under `root` for `model` (every node of a multi-node
    target is this machine: its other node hashes the same directory)."""
    nodes = target_of(model).hardware.nodes
    ips = [arg for _ in range(nodes) for arg in ("--node-ip", "127.0.0.1")] if nodes > 1 else []
    return ("--model", model, "--weights-root", str(root), *ips)


def tree_for(root: Path, model: str, **overrides: object) -> Path:
    """A healthy tree where the catalog expects `model`'s weights under `root`."""
    return make_tree(Path(weights_path(target_of(model), str(root))), model, **overrides)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the suites' verified-cache out of the user's home."""
    monkeypatch.setenv("WEIGHTS_VERIFY_CACHE", str(tmp_path / "cache.json"))


@pytest.mark.parametrize("model", ["qwen3-8b", "deepseek-v3.1-w8a8"])
def test_clean_tree_passes_every_weights_check(tmp_path, run_suites, model) -> None:
    tree_for(tmp_path, model)
    run = run_suites(*weights_args(tmp_path, model), "-k", ONLY)
    assert run.returncode == 0, run.output[-3000:]
    assert "7 passed" in run.output, run.output[-3000:]


@pytest.mark.parametrize("check", sorted(FAULTS))
def test_fault_fails_its_check_naming_the_cause(tmp_path, run_suites, check) -> None:
    model, overrides, fault, cause = FAULTS[check]
    root = tree_for(tmp_path, model, **overrides)
    if fault:
        fault(root)
    run = run_suites(*weights_args(tmp_path, model), "-k", f"{ONLY} and {check}")
    assert run.returncode == 1, f"{check}: the suite did not fail:\n{run.output[-3000:]}"
    assert "1 failed" in run.output, run.output[-3000:]
    assert cause in run.output, f"{check}: failure does not name {cause!r}:\n{run.output[-3000:]}"


def test_bad_weights_stop_the_bring_up_in_one_line(tmp_path, run_suites) -> None:
    """The service stage asks for verified_weights first: no server starts on bad weights."""
    root = tree_for(tmp_path, "smollm2-135m")
    corrupt(root)
    run = run_suites(
        "suites/test_completions.py", *weights_args(tmp_path, "smollm2-135m"), "-k", "deterministic"
    )
    assert run.returncode == 1, run.output[-3000:]
    line = next(x for x in run.output.splitlines() if "weights stage: manifest:" in x)
    assert f"{SHARDS[1]}: sha256 mismatch (corrupted)" in line
    assert "re-download the named files from HuggingFaceTB/SmolLM2-135M-Instruct" in line


def test_endpoint_mode_deselects_weights_checks_visibly(faulty_server, run_suites) -> None:
    run = run_suites("--endpoint", faulty_server.base_url, "--model", "smollm2-135m", "-k", ONLY)
    assert run.returncode == 5, run.output[-3000:]  # nothing left to run, nothing skipped
    assert "skipped" not in run.output
    assert (
        "5 weights checks deselected: weights checks do not apply with --endpoint" in run.output
    ), run.output[-3000:]


def test_endpoint_mode_with_weights_root_runs_them(faulty_server, tmp_path, run_suites) -> None:
    tree_for(tmp_path, "smollm2-135m")
    run = run_suites(
        "--endpoint", faulty_server.base_url, *weights_args(tmp_path, "smollm2-135m"), "-k", ONLY
    )
    assert run.returncode == 0 and "5 passed" in run.output, run.output[-3000:]
