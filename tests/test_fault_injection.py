"""Every check of the completion and chat suites fails on the defect it guards, naming it.

Each case runs the real suites against the faulty server (tests/faulty_server.py) with one
defect switched on, selects the check that guards it, and requires a failure whose
message names the cause; the clean server must pass the same checks.
"""

from __future__ import annotations

import pytest

from tests.faulty_server import DEFECTS

ENDPOINT_ARGS = ("--model", "smollm2-135m")

# defect -> (pytest -k expression selecting the guarding checks, text the failure must show)
GUARDS: dict[str, tuple[str, str]] = {
    "wrong_served_name": ("test_models_lists", "serves ['other-model'], not 'smollm2-135m'"),
    "wrong_max_model_len": ("test_models_lists", "max_model_len 4096 != catalog --max-model-len"),
    "nondeterministic": ("deterministic", "differ between identical requests"),
    "ignores_max_tokens": ("max_tokens_gives_length", "usage.completion_tokens 2"),
    "stop_instead_of_length": (
        "max_tokens_gives_length",
        "finish_reason 'stop', expected 'length'",
    ),
    "usage_total_off": ("usage_adds_up", "usage does not add up"),
    "prompt_tokens_off": ("usage_adds_up", "tokens from /tokenize"),
    "stream_drops_token": ("stream_equals_non_stream", "text differs at temperature 0"),
    "stream_double_finish": ("stream_equals_non_stream", "expected exactly one"),
    "stream_no_usage": ("stream_equals_non_stream", "no usage chunk"),
    "stream_no_done": ("stream_equals_non_stream", "the stream ended without data: [DONE]"),
    "stream_data_after_done": ("stream_equals_non_stream", "line(s) after data: [DONE]"),
    "ignores_stop": ("stop_string", "finish_reason 'length', expected 'stop'"),
    "stop_included": ("stop_string", "expected the text before it"),
    "wrong_answer": ("golden", "lacks ['Paris']"),
}


# defects the --endpoint preflight refuses before any test runs (a usage error, exit 4)
REFUSED_UP_FRONT = {"wrong_served_name"}


def test_every_defect_has_a_guard() -> None:
    assert set(GUARDS) == set(DEFECTS), f"unguarded: {set(DEFECTS) - set(GUARDS)}"


def test_clean_server_passes_every_check(faulty_server, run_suites) -> None:
    faulty_server.set_defect(None)
    run = run_suites(
        "--endpoint",
        faulty_server.base_url,
        *ENDPOINT_ARGS,
        "suites/test_completions.py",
        "suites/test_chat.py",
    )
    assert run.returncode == 0, run.output[-3000:]
    assert " passed" in run.output and "failed" not in run.output, run.output[-3000:]


@pytest.mark.parametrize("defect", sorted(GUARDS))
def test_defect_fails_its_check_naming_the_cause(faulty_server, run_suites, defect: str) -> None:
    selector, cause = GUARDS[defect]
    faulty_server.set_defect(defect)
    try:
        run = run_suites(
            "--endpoint",
            faulty_server.base_url,
            *ENDPOINT_ARGS,
            "suites/test_completions.py",
            "suites/test_chat.py",
            "-k",
            selector,
        )
    finally:
        faulty_server.set_defect(None)
    expected = 4 if defect in REFUSED_UP_FRONT else 1
    assert run.returncode == expected, f"{defect}: the suite did not fail:\n{run.output[-3000:]}"
    assert cause in run.output, f"{defect}: failure does not name {cause!r}:\n{run.output[-3000:]}"
    counts = run.output.strip().splitlines()[-1]
    assert " passed" not in counts, f"{defect}: a check it guards passed: {counts}"
