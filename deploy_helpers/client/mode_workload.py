"""The fixed workload a graph mode is qualified with: greedy answers (as tokens), TPOT and,
where the run checks accuracy, the catalog's task scores (deploy_helpers/client/accuracy.py).

Each mode's service runs the same workload; the graph-mode suite then compares a mode's
greedy tokens with eager's and its TPOT as a ratio to eager's, measured in the same run,
and the accuracy suite its scores with its baselines and with eager's.
TPOT follows vLLM's definition: (E2E - TTFT) / (output tokens - 1), TTFT being the first
chunk with non-empty text.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from deploy_helpers.catalog.schema import ThinkingSwitch
from deploy_helpers.client.accuracy import TaskScore
from deploy_helpers.client.endpoint import Endpoint, openai_client, thinking_switch

GREEDY_PROMPTS = (
    "What is the capital of France?",
    "Tell me a short story about a lighthouse keeper.",
    "List three colours.",
)
GREEDY_TOKENS = 32
TPOT_PROMPT = "Once upon a time, in a small village by the sea, there lived"
TPOT_TOKENS = 64
TPOT_RUNS = 3


@dataclass(frozen=True)
class GreedyAnswer:
    """One prompt's greedy answer: its text and its tokens (from logprobs)."""

    prompt: str
    text: str
    tokens: list[str]


@dataclass
class ModeRun:
    """What one graph mode's bring-up showed: its log, answers, TPOT and task scores (by
    task name), or its error."""

    mode: str
    log: str = ""
    answers: list[GreedyAnswer] = field(default_factory=list)
    tpot_s: float | None = None
    tpot_error: str | None = None
    scores: dict[str, TaskScore] = field(default_factory=dict)
    error: str | None = None


def greedy_answers(endpoint: Endpoint, thinking: ThinkingSwitch | None) -> list[GreedyAnswer]:
    """Greedy chat answers to GREEDY_PROMPTS, thinking off, with their tokens."""
    client = openai_client(endpoint)
    answers = []
    for prompt in GREEDY_PROMPTS:
        choice = client.chat.completions.create(
            model=endpoint.served_model_name,
            temperature=0,
            max_tokens=GREEDY_TOKENS,
            messages=[{"role": "user", "content": prompt}],
            logprobs=True,
            extra_body=thinking_switch(thinking, False),
        ).choices[0]
        tokens = [t.token for t in (choice.logprobs.content or [])] if choice.logprobs else []
        answers.append(GreedyAnswer(prompt, choice.message.content or "", tokens))
    return answers


def tpot_seconds(endpoint: Endpoint) -> float:
    """Median TPOT of TPOT_RUNS streamed completions of TPOT_TOKENS tokens each."""
    client = openai_client(endpoint)
    samples = []
    for _ in range(TPOT_RUNS):
        first = last = None
        tokens = 0
        stream = client.completions.create(
            model=endpoint.served_model_name,
            prompt=TPOT_PROMPT,
            max_tokens=TPOT_TOKENS,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True, "min_tokens": TPOT_TOKENS},
        )
        for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
            if any(c.text for c in chunk.choices):
                last = time.perf_counter()
                first = first or last
        if first is not None and tokens > 1:
            samples.append((last - first) / (tokens - 1))
    if not samples:
        raise ValueError("no streamed completion produced two or more tokens")
    return statistics.median(samples)


def first_divergence(left: GreedyAnswer, right: GreedyAnswer) -> str:
    """Where two answers' tokens first differ, for a failure message."""
    pairs = zip(left.tokens, right.tokens, strict=False)
    index = next(
        (i for i, (a, b) in enumerate(pairs) if a != b), min(len(left.tokens), len(right.tokens))
    )

    def token(answer: GreedyAnswer) -> str:
        return repr(answer.tokens[index]) if index < len(answer.tokens) else "<end>"

    return f"first diverging token #{index}: {token(left)} vs {token(right)}"
