"""Serving metrics with vLLM's definitions, from per-request timestamps.

- TTFT: request sent -> first event carrying non-empty text (role-only, usage-only and
  empty events do not count).
- E2E latency: request sent -> last event carrying non-empty text.
- TPOT per request: (E2E - TTFT) / (output tokens - 1), output tokens from `usage`.
- ITL: gaps between consecutive events carrying text (one gap per event, however many
  tokens it carries).
- Throughputs divide by the window: first send -> last completion.
- Goodput: requests meeting every SLO, per second of the window.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PERCENTILES = {"median": 50.0, "p90": 90.0, "p99": 99.0}


@dataclass
class RequestRecord:
    """One request's timeline (perf_counter seconds) and what its reply said."""

    index: int
    prompt_tokens: int
    max_tokens: int
    sent_at: float = 0.0
    done_at: float = 0.0
    content_times: list[float] = field(default_factory=list)
    usage_prompt_tokens: int | None = None
    usage_completion_tokens: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The request finished and produced text."""
        return self.error is None and bool(self.content_times)

    @property
    def output_tokens(self) -> int:
        """Tokens generated: usage when the server sent it, else the content events."""
        if self.usage_completion_tokens is not None:
            return self.usage_completion_tokens
        return len(self.content_times)

    @property
    def ttft(self) -> float:
        """Seconds from send to the first content event."""
        return self.content_times[0] - self.sent_at

    @property
    def e2e(self) -> float:
        """Seconds from send to the last content event."""
        return self.content_times[-1] - self.sent_at

    @property
    def tpot(self) -> float | None:
        """Mean seconds per output token after the first (None for one-token replies)."""
        if self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)

    @property
    def itls(self) -> list[float]:
        """Gaps between consecutive content events."""
        times = self.content_times
        return [b - a for a, b in itertools.pairwise(times)]

    def usage_problem(self) -> str | None:
        """Why `usage` disagrees with what was asked (None when it agrees)."""
        if self.usage_completion_tokens is None or self.usage_prompt_tokens is None:
            return f"request {self.index}: no usage in the reply"
        problems = []
        if self.usage_prompt_tokens != self.prompt_tokens:
            problems.append(f"prompt_tokens {self.usage_prompt_tokens} != {self.prompt_tokens}")
        if self.usage_completion_tokens != self.max_tokens:
            problems.append(
                f"completion_tokens {self.usage_completion_tokens} != {self.max_tokens}"
            )
        return f"request {self.index}: " + ", ".join(problems) if problems else None


def distribution(values_s: Sequence[float]) -> dict[str, float | int | None]:
    """Mean, median, p90, p99 in milliseconds, and the sample count."""
    if not len(values_s):
        return {"count": 0, "mean": None, **{name: None for name in PERCENTILES}}
    ms = np.asarray(values_s, dtype=float) * 1000.0
    stats: dict[str, float | int | None] = {"count": int(ms.size), "mean": float(ms.mean())}
    for name, q in PERCENTILES.items():
        stats[name] = float(np.percentile(ms, q))
    return stats


def meets_slos(record: RequestRecord, slos_ms: dict[str, float]) -> bool:
    """Whether a finished request meets every SLO (keys: ttft, tpot, e2el; milliseconds)."""
    values = {"ttft": record.ttft, "tpot": record.tpot, "e2el": record.e2e}
    for key, limit in slos_ms.items():
        value = values[key]
        if value is not None and value * 1000.0 > limit:
            return False
    return True


def summarize(
    records: Sequence[RequestRecord], slos_ms: dict[str, float] | None = None
) -> dict[str, object]:
    """Aggregate metrics of a measurement window over its requests."""
    done = [r for r in records if r.ok]
    window = max(r.done_at for r in records) - min(r.sent_at for r in records) if records else 0.0
    output = sum(r.output_tokens for r in done)
    prompt = sum(r.usage_prompt_tokens or r.prompt_tokens for r in done)
    per_s = (lambda n: n / window) if window > 0 else (lambda n: 0.0)
    summary: dict[str, object] = {
        "completed": len(done),
        "failed": len(records) - len(done),
        "duration_s": window,
        "total_input_tokens": prompt,
        "total_output_tokens": output,
        "request_throughput": per_s(len(done)),
        "output_throughput": per_s(output),
        "total_token_throughput": per_s(output + prompt),
        "ttft_ms": distribution([r.ttft for r in done]),
        "tpot_ms": distribution([t for r in done if (t := r.tpot) is not None]),
        "itl_ms": distribution([g for r in done for g in r.itls]),
        "e2el_ms": distribution([r.e2e for r in done]),
    }
    summary["samples_ms"] = {
        "ttft_ms": [r.ttft * 1000.0 for r in done],
        "tpot_ms": [t * 1000.0 for r in done if (t := r.tpot) is not None],
        "e2e_ms": [r.e2e * 1000.0 for r in done],
    }
    if slos_ms:
        good = sum(meets_slos(r, slos_ms) for r in done)
        summary["goodput"] = {
            "slos_ms": dict(slos_ms),
            "good_requests": good,
            "request_goodput": per_s(good),
        }
    return summary
