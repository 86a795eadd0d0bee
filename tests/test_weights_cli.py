"""`python -m deploy_helpers weights ...`: exit codes and messages, in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_helpers.weights.manifest import MANIFEST_NAME
from tests.weights_tree import SHARDS, flip_byte, make_tree

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path: Path):
    """Run the weights CLI with a private verified-cache; returns (code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "WEIGHTS_VERIFY_CACHE": str(tmp_path / "cache.json"),
            "HOME": str(tmp_path),
        }
        done = subprocess.run(
            [sys.executable, "-m", "deploy_helpers", "weights", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr

    return run


def test_manifest_then_verify(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w")
    (root / MANIFEST_NAME).unlink()
    code, out, _ = cli("manifest", str(root))
    assert code == 0 and f"manifest written: {root / MANIFEST_NAME}" in out
    code, out, err = cli("verify", str(root), "--manifest", str(root / MANIFEST_NAME))
    assert (code, err) == (0, "") and "verified" in out
    assert "(manifest self-made from the directory on " in out


def test_md5_manifest(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w")
    code, _, _ = cli("manifest", str(root), "--algorithm", "md5", "--out", str(tmp_path / "m"))
    assert code == 0
    assert json.loads((tmp_path / "m").read_text())["algorithm"] == "md5"
    assert cli("verify", str(root), "--manifest", str(tmp_path / "m"))[0] == 0


def test_mismatch_exits_1_naming_the_file(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w")
    assert cli("verify", str(root))[0] == 0  # fills the cache
    flip_byte(root / SHARDS[0])
    code, _, err = cli("verify", str(root), "--manifest", str(root / MANIFEST_NAME))
    assert code == 1
    assert f"FAILED {root / SHARDS[0]}: sha256 mismatch (corrupted)" in err


def test_rehash_flag_reaches_the_cache(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w")
    assert cli("verify", str(root), "--rehash")[0] == 0


def test_missing_dir_is_one_line(tmp_path, cli) -> None:
    code, out, err = cli("verify", str(tmp_path / "nope"), "--manifest", str(tmp_path / "m"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "weights directory not found" in err
    assert "Traceback" not in err


def test_missing_manifest_is_one_line(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w")
    code, _, err = cli("verify", str(root), "--manifest", str(tmp_path / "absent.json"))
    assert code == 2 and err.count("\n") == 1 and "manifest not found" in err


def test_model_verify_names_config_and_remedy(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b", dtype="bfloat16")
    code, _, err = cli("verify", str(root), "--model", "qwen3-8b")
    assert code == 1
    assert "FAILED dtype:" in err and "config.json: torch_dtype is bfloat16" in err
    assert f"weights set-dtype {root} float16 --update-manifest" in err


def test_unverified_file_exits_1_naming_it(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w")
    (root / "notes.txt").write_text("added after the manifest\n")
    code, _, err = cli("verify", str(root))
    assert code == 1 and f"FAILED {root / 'notes.txt'}: unverified: not in the manifest" in err


def test_unknown_model_is_one_line(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w")
    code, _, err = cli("verify", str(root), "--model", "no-such-model")
    assert code == 2 and err.startswith("error: unknown model 'no-such-model'")


def test_set_dtype_is_explicit_and_manifest_follows_only_when_asked(tmp_path, cli) -> None:
    root = make_tree(tmp_path / "w", "qwen3-8b", dtype="bfloat16")
    code, out, err = cli("set-dtype", str(root), "float16")
    assert code == 0 and "config.json: torch_dtype bfloat16 -> float16" in out
    assert "verification will fail on it until you rerun with --update-manifest" in err
    code, _, err = cli("verify", str(root), "--model", "qwen3-8b")
    assert code == 1 and "config.json: sha256 mismatch" in err
    set_back = cli("set-dtype", str(root), "bfloat16")
    assert set_back[0] == 0
    code, out, _ = cli("set-dtype", str(root), "float16", "--update-manifest")
    assert code == 0 and "manifest updated" in out
    code, out, err = cli("verify", str(root), "--model", "qwen3-8b")
    assert code == 0, err
