"""The weights library on real files: a healthy tree passes every check, each fault fails
the check that guards it with the file and cause named, and the verified-cache is fast and
notices changes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.errors import SuiteError
from deploy_helpers.serve.stack import RunOptions, Stack
from deploy_helpers.weights import config as weights_config
from deploy_helpers.weights import hashing as weights_hashing
from deploy_helpers.weights import manifest as weights
from deploy_helpers.weights import shards as weights_shards
from deploy_helpers.weights.checks import Settings, checks_for, run_check, verify_target
from deploy_helpers.weights.stage import VerifiedWeights
from tests.weights_tree import (
    DEEPSEEK_BODY,
    DEEPSEEK_BODY_ASCII,
    DEEPSEEK_TOOLS,
    PROFILES,
    SHARDS,
    flip_byte,
    flip_byte_keep_stat,
    fullwidth,
    make_tree,
    set_config,
    target_of,
    truncate,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A verified-cache file private to the test."""
    return tmp_path / "cache.json"


def check(model: str, root: Path, name: str, cache: Path) -> list[str]:
    """Problems one named check of `model`'s target finds in `root`."""
    return run_check(name, target_of(model), root, Settings(cache_path=cache)).problems


@pytest.mark.parametrize("model", sorted(PROFILES))
def test_healthy_tree_passes_every_check(tmp_path: Path, cache: Path, model: str) -> None:
    root = make_tree(tmp_path / model, model)
    results = verify_target(target_of(model), root, Settings(cache_path=cache))
    assert [r.name for r in results] == checks_for(target_of(model))
    assert all(r.ok for r in results), [r.message() for r in results if not r.ok]


def test_checks_follow_the_catalog() -> None:
    assert checks_for(target_of("smollm2-135m")) == [
        "manifest",
        "shards",
        "dtype",
        "quantization",
        "identity",
    ]
    assert checks_for(target_of("qwen3-8b"))[-2:] == ["tools_template", "thinking_template"]


# --------------------------------------------------------------------------- checksums


def test_corrupted_byte_fails_the_manifest_check_naming_the_file(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    flip_byte(root / SHARDS[1])
    problems = check("qwen3-8b", root, "manifest", cache)
    assert len(problems) == 1
    assert problems[0].startswith(f"{SHARDS[1]}: sha256 mismatch (corrupted)")
    assert check("qwen3-8b", root, "shards", cache) == []  # only a checksum sees this


def test_truncated_file_fails_manifest_and_shard_checks(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    truncate(root / SHARDS[0])
    assert check("qwen3-8b", root, "manifest", cache) == [
        f"{SHARDS[0]}: truncated: size 1000 bytes, manifest says "
        f"{weights.load_manifest(root / weights.MANIFEST_NAME)['files'][SHARDS[0]]['size']}"
    ]
    [problem] = check("qwen3-8b", root, "shards", cache)
    assert problem.startswith(f"{SHARDS[0]}: truncated: 1000 bytes")


def test_missing_shard_fails_naming_the_shard(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    (root / SHARDS[1]).unlink()
    assert check("qwen3-8b", root, "manifest", cache) == [
        f"{SHARDS[1]}: missing (listed in the manifest)"
    ]
    [problem] = check("qwen3-8b", root, "shards", cache)
    assert problem.startswith(f"{SHARDS[1]}: missing (listed in model.safetensors.index.json")


def test_missing_non_weight_file_listed_in_manifest_fails(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    (root / "tokenizer.json").unlink()
    assert check("qwen3-8b", root, "manifest", cache) == [
        "tokenizer.json: missing (listed in the manifest)"
    ]


def test_unlisted_weight_file_fails(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    (root / "extra.safetensors").write_bytes((root / SHARDS[0]).read_bytes())
    assert check("qwen3-8b", root, "manifest", cache) == [
        "extra.safetensors: unverified: not in the manifest (a loader would use it)"
    ]


def _published_list(root: Path, dest: Path, *names: str) -> Path:
    """A sha256sum list of `names` only, made by the real tool, as a source publishes it."""
    listing = subprocess.run(
        ["sha256sum", *names], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    dest.write_text(listing)
    return dest


def test_files_a_published_list_does_not_name_are_unverified(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    sums = _published_list(root, tmp_path / "SHA256SUMS", *SHARDS)  # no tokenizer, no config
    flip_byte(root / "tokenizer.json", 5)  # a corrupted tokenizer must not pass
    problems = weights.verify(root, sums, cache_path=cache)
    assert problems == [
        f"{name}: unverified: not in the manifest"
        for name in (
            "config.json",
            "generation_config.json",
            "model.safetensors.index.json",
            "tokenizer.json",
            "tokenizer_config.json",
        )
    ]


def test_catalog_may_allow_unverified_files_and_the_stage_still_lists_them(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    sums = _published_list(root, tmp_path / "SHA256SUMS", *SHARDS)
    target = target_of("qwen3-8b")
    lenient = dataclasses.replace(
        target, model=target.model.model_copy(update={"unverified_files_allowed": True})
    )
    settings = Settings(manifest=sums, cache_path=cache)
    assert run_check("manifest", lenient, root, settings).problems == []
    assert run_check("manifest", target, root, settings).problems  # the default fails
    stack = Stack.plan(lenient, RunOptions(weights_root=str(tmp_path), endpoint="http://x:9"))
    [fact] = VerifiedWeights(stack, root, sums, []).facts()
    assert fact.facts["manifest_origin"] == "published (sha256sum list SHA256SUMS)"
    assert "tokenizer.json" in fact.facts["unverified_files"]


def test_a_self_made_manifest_says_so_in_the_report(tmp_path) -> None:
    root = make_tree(tmp_path / "w")
    origin = weights.load_manifest(root / weights.MANIFEST_NAME)["origin"]
    assert origin.startswith("self-made from the directory on ")
    assert "not that they are the source's" in origin
    stack = Stack.plan(
        target_of("qwen3-8b"), RunOptions(weights_root=str(tmp_path), endpoint="http://x:9")
    )
    [fact] = VerifiedWeights(stack, root, root / weights.MANIFEST_NAME, []).facts()
    assert fact.facts["manifest_origin"] == origin and fact.facts["unverified_files"] == []
    old = tmp_path / "old.json"  # a manifest written before origins were recorded
    old.write_text(json.dumps({"algorithm": "sha256", "files": {}}))
    assert weights.load_manifest(old)["origin"].startswith("not stated")


def test_a_published_list_is_never_rewritten(tmp_path) -> None:
    root = make_tree(tmp_path / "w")
    sums = _published_list(root, tmp_path / "SHA256SUMS", "config.json")
    with pytest.raises(SuiteError, match="a published checksum list is not rewritten"):
        weights.update_manifest_entry(sums, root, "config.json")


# --------------------------------------------------------------------------- identity


def test_a_7b_directory_under_the_14b_path_fails_identity(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b")
    seven_b = target_of("qwen2.5-7b").model.config.published()
    set_config(root, **seven_b)
    problems = check("qwen2.5-14b", root, "identity", cache)
    assert problems == [
        "config.json: hidden_size is 3584, Qwen/Qwen2.5-14B-Instruct publishes 5120",
        "config.json: num_hidden_layers is 28, Qwen/Qwen2.5-14B-Instruct publishes 48",
        "config.json: num_attention_heads is 28, Qwen/Qwen2.5-14B-Instruct publishes 40",
        "config.json: num_key_value_heads is 4, Qwen/Qwen2.5-14B-Instruct publishes 8",
    ]


def test_the_base_model_seed_000_links_fails_identity(tmp_path, cache) -> None:
    """Qwen/Qwen2.5-14B (seed 000 §2.1's link) has the Instruct shapes but 131072 positions."""
    root = make_tree(tmp_path / "w", "qwen3-8b")
    set_config(root, **target_of("qwen2.5-14b").model.config.published())
    assert check("qwen2.5-14b", root, "identity", cache) == []
    set_config(root, max_position_embeddings=131072, eos_token_id=151643)
    result = run_check("identity", target_of("qwen2.5-14b"), root, Settings(cache_path=cache))
    assert result.problems == [
        "config.json: max_position_embeddings is 131072, Qwen/Qwen2.5-14B-Instruct publishes 32768"
    ]
    assert "seed 000 §2.1 links the base repo" in result.message()
    set_config(
        root, **{**target_of("qwen2.5-32b").model.config.published(), "eos_token_id": 151643}
    )
    assert check("qwen2.5-32b", root, "identity", cache) == [
        "config.json: eos_token_id is 151643, Qwen/Qwen2.5-32B-Instruct publishes 151645"
    ]


def test_identity_names_a_missing_key_and_reads_text_config(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b")
    set_config(root, vocab_size=None)
    assert check("qwen3-8b", root, "identity", cache) == [
        "config.json: vocab_size is absent, Qwen/Qwen3-8B publishes 151936"
    ]
    vl = target_of("qwen2.5-vl").model.config.published()
    set_config(
        root,
        architectures=vl["architectures"],
        text_config={k: v for k, v in vl.items() if k != "architectures"},
    )
    for key in ("hidden_size", "num_hidden_layers", "vocab_size"):
        set_config(root, **{key: None})
    assert check("qwen2.5-vl", root, "identity", cache) == []


def test_every_catalog_model_publishes_config_values_with_a_source() -> None:
    for model in load_catalog().models.values():
        assert model.config is not None, model.name
        assert {"architectures", "hidden_size", "num_hidden_layers"} <= set(
            model.config.published()
        ), model.name
        assert len(model.config.source) > 40, model.name


def test_smollm2_entry_matches_the_real_converted_config() -> None:
    converted = REPO / ".weights" / "smollm2-135m"
    if not (converted / "config.json").is_file():
        pytest.skip("no embedded weights here: ./setup.sh converts them")
    published = target_of("smollm2-135m").model.config.published()
    assert weights_config.check_identity(converted, published, "SmolLM2") == []


def test_shard_lacking_an_indexed_tensor_fails(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    index = json.loads((root / weights_shards.INDEX_NAME).read_text())
    index["weight_map"]["model.layers.9.mlp.up_proj.weight"] = SHARDS[0]
    (root / weights_shards.INDEX_NAME).write_text(json.dumps(index))
    [problem] = check("qwen3-8b", root, "shards", cache)
    assert problem.startswith(f"{SHARDS[0]}: lacks 1 tensors")


def test_many_shards_without_index_fail(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    (root / weights_shards.INDEX_NAME).unlink()
    [problem] = check("qwen3-8b", root, "shards", cache)
    assert problem.startswith("model.safetensors.index.json: missing, but 2 safetensors")


def test_missing_dir_and_manifest_are_one_line_errors(tmp_path, cache) -> None:
    with pytest.raises(SuiteError, match="weights directory not found"):
        weights.verify(tmp_path / "absent", cache_path=cache)
    root = make_tree(tmp_path / "w")
    (root / weights.MANIFEST_NAME).unlink()
    with pytest.raises(SuiteError, match="manifest not found") as info:
        weights.verify(root, cache_path=cache)
    assert "\n" not in str(info.value)


def test_md5_manifest_round_trips(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    dest = weights.write_manifest(root, "md5", tmp_path / "md5.json", progress=False)
    manifest = weights.load_manifest(dest)
    assert manifest["algorithm"] == "md5"
    assert (
        manifest["files"]["config.json"]["digest"]
        == hashlib.md5((root / "config.json").read_bytes()).hexdigest()
    )
    assert weights.verify(root, dest, cache_path=cache) == []
    flip_byte(root / SHARDS[0])
    assert weights.verify(root, dest, cache_path=cache)[0].startswith(f"{SHARDS[0]}: md5 mismatch")


@pytest.mark.parametrize("tool", ["sha256sum", "md5sum"])
def test_published_checksum_list_is_a_manifest(tmp_path, cache, tool) -> None:
    """The source's `sha256sum`/`md5sum` list (seed 000 §2.D), produced by the real tool."""
    root = make_tree(tmp_path / "w")
    names = sorted(p.name for p in root.iterdir() if p.name != weights.MANIFEST_NAME)
    listing = subprocess.run(
        [tool, *names], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    sums = tmp_path / "SUMS"
    sums.write_text(listing)
    assert weights.verify(root, sums, cache_path=cache) == []
    flip_byte(root / "config.json", 3)
    assert weights.verify(root, sums, cache_path=cache)[0].startswith("config.json: ")


def test_malformed_manifest_is_named(tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a manifest\n")
    with pytest.raises(SuiteError, match=r"bad.txt:1: not a manifest"):
        weights.load_manifest(bad)


# --------------------------------------------------------------------------- hashing


def test_threads_and_processes_give_hashlib_digests(tmp_path) -> None:
    root = make_tree(tmp_path / "w")
    files = weights.weight_files(root)
    expected = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert weights_hashing.hash_files(files, workers=2, progress=False) == expected
    assert (
        weights_hashing.hash_files(files, workers=2, use_processes=True, progress=False) == expected
    )


def test_cache_hit_skips_hashing_and_is_fast(tmp_path, cache, monkeypatch) -> None:
    root = make_tree(tmp_path / "w")
    assert weights.verify(root, cache_path=cache) == []

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed a file the cache knows")

    monkeypatch.setattr(weights_hashing, "file_digest", no_hashing)
    start = time.perf_counter()
    assert weights.verify(root, cache_path=cache) == []
    assert time.perf_counter() - start < 1.0


def test_cache_notices_a_rewritten_file(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    assert weights.verify(root, cache_path=cache) == []
    flip_byte(root / SHARDS[0])  # same size, new mtime
    assert weights.verify(root, cache_path=cache)[0].startswith(f"{SHARDS[0]}: sha256 mismatch")


def test_cache_notices_a_size_change(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    assert weights.verify(root, cache_path=cache) == []
    with (root / "tokenizer.json").open("a") as handle:
        handle.write(" ")
    assert weights.verify(root, cache_path=cache)[0].startswith("tokenizer.json: grown")


def test_rehash_finds_what_the_cache_cannot_see(tmp_path, cache) -> None:
    """Bit rot keeps path, size, mtime and inode: only --rehash reads the bytes again."""
    root = make_tree(tmp_path / "w")
    assert weights.verify(root, cache_path=cache) == []
    flip_byte_keep_stat(root / SHARDS[1])
    assert weights.verify(root, cache_path=cache) == []
    assert weights.verify(root, cache_path=cache, rehash=True)[0].startswith(
        f"{SHARDS[1]}: sha256 mismatch"
    )


# --------------------------------------------------------------------------- config.json


@pytest.mark.parametrize("key", ["torch_dtype", "dtype"])
def test_bfloat16_config_fails_on_the_300i_duo(tmp_path, cache, key) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b", dtype="bfloat16", dtype_key=key)
    result = run_check("dtype", target_of("qwen3-8b"), root, Settings(cache_path=cache))
    assert result.problems == [f"config.json: {key} is bfloat16, the hardware computes in float16"]
    assert f"weights set-dtype {root} float16 --update-manifest" in result.message()


def test_missing_or_conflicting_dtype_fails(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w")
    set_config(root, torch_dtype=None)
    assert check("qwen3-8b", root, "dtype", cache)[0].startswith(
        "config.json: sets neither torch_dtype nor dtype"
    )
    set_config(root, torch_dtype="float16", dtype="bfloat16")
    assert "disagree" in check("qwen3-8b", root, "dtype", cache)[0]


def test_set_dtype_fixes_config_and_manifest_only_when_asked(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b", dtype="bfloat16")
    assert weights_config.set_dtype(root, "float16") == [
        "config.json: torch_dtype bfloat16 -> float16"
    ]
    assert check("qwen3-8b", root, "dtype", cache) == []
    assert check("qwen3-8b", root, "manifest", cache)[0].startswith("config.json: ")
    weights.update_manifest_entry(root / weights.MANIFEST_NAME, root, "config.json")
    assert check("qwen3-8b", root, "manifest", cache) == []
    assert weights_config.set_dtype(root, "float16") == []


def test_fp8_quantization_is_rejected(tmp_path, cache) -> None:
    fp8 = {
        "quant_method": "fp8",
        "fmt": "e4m3",
        "activation_scheme": "dynamic",
        "weight_block_size": [128, 128],
    }
    root = make_tree(
        tmp_path / "w", "deepseek-v3.1-w8a8", quantization_config=fp8, description=None
    )
    problems = check("deepseek-v3.1-w8a8", root, "quantization", cache)
    assert problems[0] == (
        "config.json: quantization_config quant_method fp8: fp8 "
        "quantization, which this hardware does not compute (it computes "
        "bfloat16, float16, int8)"
    )
    assert "declares no w8a8 quantization" in problems[1]


def test_fp8_tensors_in_a_description_are_rejected(tmp_path, cache) -> None:
    description = {
        "model_quant_type": "W8A8_DYNAMIC",
        "model.layers.0.mlp.down_proj.weight": "W8A8_MXFP8",
    }
    root = make_tree(tmp_path / "w", "deepseek-v3.1-w8a8", description=description)
    assert check("deepseek-v3.1-w8a8", root, "quantization", cache) == [
        "quant_model_description.json: model.layers.0.mlp.down_proj.weight is W8A8_MXFP8: "
        "fp8 quantization, which this hardware does not compute (it computes bfloat16, "
        "float16, int8)"
    ]


def test_w8a8_model_without_quantization_fails(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w", "deepseek-v3.1-w8a8", description=None)
    [problem] = check("deepseek-v3.1-w8a8", root, "quantization", cache)
    assert "declares no w8a8 quantization" in problem


def test_quantized_checkpoint_for_an_unquantized_model_fails(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b", description={"model_quant_type": "W8A8"})
    assert check("qwen3-8b", root, "quantization", cache) == [
        "quant_model_description.json: model_quant_type W8A8: w8a8 quantization, the catalog "
        "says unquantized"
    ]


def test_ascend_quantization_config_counts_as_w8a8(tmp_path, cache) -> None:
    root = make_tree(
        tmp_path / "w",
        "deepseek-v3.1-w8a8",
        description=None,
        quantization_config={"quant_method": "ascend", "model_quant_type": "W8A8_DYNAMIC"},
    )
    assert check("deepseek-v3.1-w8a8", root, "quantization", cache) == []


# --------------------------------------------------------------------------- chat template


def test_template_without_tool_section_fails(tmp_path, cache) -> None:
    root = make_tree(
        tmp_path / "w", "deepseek-v3.1-w8a8", template="{{ bos_token }}" + DEEPSEEK_BODY
    )
    assert check("deepseek-v3.1-w8a8", root, "tools_template", cache) == [
        "tokenizer_config.json: chat_template has no tool-call section (an offered tool does "
        "not appear in the rendered prompt)"
    ]


def test_chat_template_jinja_takes_precedence(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w", "deepseek-v3.1-w8a8")
    (root / "chat_template.jinja").write_text("{{ bos_token }}" + DEEPSEEK_BODY)
    [problem] = check("deepseek-v3.1-w8a8", root, "tools_template", cache)
    assert problem.startswith("chat_template.jinja: chat_template has no tool-call section")


def test_broken_template_is_reported(tmp_path, cache) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b", template="{% for m in messages %}")
    [problem] = check("qwen3-8b", root, "tools_template", cache)
    assert "chat template does not render with tools (TemplateSyntaxError" in problem


def test_thinking_switch_must_end_prompts_as_the_catalog_says(tmp_path, cache) -> None:
    ascii_bars = "{{ bos_token }}" + DEEPSEEK_TOOLS + DEEPSEEK_BODY_ASCII  # seed 003's text
    root = make_tree(tmp_path / "w", "deepseek-v3.1-w8a8", template=ascii_bars)
    problems = check("deepseek-v3.1-w8a8", root, "thinking_template", cache)
    assert len(problems) == 2
    assert problems[0].startswith("tokenizer_config.json: with thinking=True the prompt ends")
    assert f"expected '{fullwidth('<|Assistant|>')}<think>'" in problems[0]
