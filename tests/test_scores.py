"""Score arithmetic and the scorers' own failures, without a server: Wilson intervals,
baselines and floors in the catalog, BFCL tools conversion and its missing data, the
shipped tasks' data paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from deploy_helpers.catalog.schema import AccuracyTask, Baseline
from deploy_helpers.client import bfcl
from deploy_helpers.client.accuracy import render_shipped, shipped_tasks
from deploy_helpers.client.scoring import wilson_interval
from deploy_helpers.client.tool_calls import Call


def test_wilson_interval_stays_inside_and_is_not_empty_at_the_edges() -> None:
    assert wilson_interval(0, 5) == (0.0, pytest.approx(0.4345, abs=1e-4))
    low, high = wilson_interval(22, 40)
    assert (round(low, 3), round(high, 3)) == (0.398, 0.693)
    assert wilson_interval(40, 40)[1] == 1.0 and wilson_interval(0, 0) == (0.0, 1.0)


def test_baseline_floor_in_points_or_relative() -> None:
    assert Baseline(baseline=0.55, threshold_points=20, source="s").floor == pytest.approx(0.35)
    assert Baseline(baseline=0.8, rtol=0.05, source="s").floor == pytest.approx(0.76)
    with pytest.raises(ValidationError, match="exactly one of threshold_points and rtol"):
        Baseline(baseline=0.5, source="s")


def test_accuracy_task_rules() -> None:
    task = AccuracyTask(
        task="capitals",
        metric="m",
        max_gen_toks=8,
        baseline=0.5,
        threshold_points=10,
        source="s",
        graph_modes={"compiled": {"baseline": 0.3, "rtol": 0.1, "source": "t"}},
    )
    assert task.baseline_for("eager").floor == pytest.approx(0.4)
    assert task.baseline_for("compiled").floor == pytest.approx(0.27)
    assert task.below(0.39, 0.5) and not task.below(0.41, 0.5)
    assert AccuracyTask(task="t", metric="m", max_gen_toks=8).baseline_for("eager") is None
    with pytest.raises(ValidationError, match="needs its source"):
        AccuracyTask(task="t", metric="m", max_gen_toks=8, baseline=0.5, threshold_points=1)
    with pytest.raises(ValidationError, match="leaves no room for the prompt"):
        AccuracyTask(task="t", metric="m", max_gen_toks=4096, max_length=2048)


def test_shipped_tasks_get_absolute_data_paths(tmp_path: Path) -> None:
    assert "capitals" in shipped_tasks()
    config = yaml.safe_load((render_shipped(tmp_path) / "capitals.yaml").read_text())
    for name in config["dataset_kwargs"]["data_files"].values():
        assert Path(name).is_absolute() and Path(name).is_file()


def test_bfcl_functions_become_openai_tools() -> None:
    (tool,) = bfcl.openai_tools(
        [
            {
                "name": "math.hypot",
                "description": "Norm.",
                "parameters": {
                    "type": "dict",
                    "properties": {
                        "x": {"type": "float", "description": "x."},
                        "p": {"type": "tuple", "items": {"type": "dict"}},
                    },
                },
            }
        ]
    )
    function = tool["function"]
    assert function["name"] == "math_hypot" and function["description"].endswith("Python 3 syntax.")
    assert function["parameters"]["type"] == "object"
    assert function["parameters"]["properties"]["x"] == {
        "type": "number",
        "format": "float",
        "description": "x. This is a float type value.",
    }
    assert function["parameters"]["properties"]["p"] == {
        "type": "array",
        "items": {"type": "object"},
    }


def test_bfcl_judges_like_its_runner() -> None:
    (case,) = [c for c in bfcl.load_category("simple_python") if c.id == "simple_python_1"]
    right = Call("1", "math_factorial", '{"number": 5}')
    assert bfcl.judge(case, [right], "").valid
    assert bfcl.judge(case, [], "It is 120.").error_type == "ast_decoder:decoder_failed"
    bare = Call("1", "math_factorial", '"5"')  # vLLM 0.32 CPU's forced-call arguments
    assert bfcl.judge(case, [bare], "").error_type == "ast_decoder:decoder_wrong_output_format"
    wrong = bfcl.judge(case, [Call("1", "math_factorial", '{"number": 6}')], "")
    assert not wrong.valid and "Invalid value" in wrong.error
    irrelevant = bfcl.load_category("irrelevance")[0]
    assert bfcl.judge(irrelevant, [], "I cannot.").valid
    assert not bfcl.judge(irrelevant, [right], "").valid


def test_bfcl_data_missing_is_one_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bfcl.resources, "files", lambda package: tmp_path)
    with pytest.raises(bfcl.BfclError) as raised:
        bfcl.load_category("simple_python")
    message = str(raised.value)
    assert message.startswith("bfcl-eval's data has no BFCL_v4_simple_python.json")
    assert "--no-deps bfcl-eval==2026.3.23" in message and "\n" not in message


def test_bfcl_sample_is_spread_over_the_category() -> None:
    cases = bfcl.load_category("multiple")
    assert [c.id for c in bfcl.sampled(cases, 4)] == [
        "multiple_0",
        "multiple_50",
        "multiple_100",
        "multiple_150",
    ]
