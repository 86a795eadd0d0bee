"""The load generator's metric arithmetic and stream parsing, on hand-computed cases."""

from __future__ import annotations

import json

import pytest

from deploy_helpers.loadgen.metrics import RequestRecord, distribution, summarize
from deploy_helpers.loadgen.sse import apply_stream, split_events


def sse(*payloads: object) -> bytes:
    """An SSE body of JSON payloads, then [DONE]."""
    body = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)
    return body + b"data: [DONE]\n\n"


def text(t: str) -> dict:
    return {"choices": [{"index": 0, "text": t, "finish_reason": None}]}


def delta(**fields: object) -> dict:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


def usage(prompt: int, completion: int) -> dict:
    return {
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def record(sent: float = 10.0, prompt: int = 4, max_tokens: int = 3) -> RequestRecord:
    return RequestRecord(0, prompt, max_tokens, sent_at=sent)


def test_ttft_tpot_itl_e2e_by_hand() -> None:
    # sent at 10.0; text at 10.1, 10.3, 10.6; usage says 3 tokens
    rec = record()
    apply_stream(
        rec,
        [(10.1, sse(text(" a"))), (10.3, sse(text(" b"))), (10.6, sse(text(" c"), usage(4, 3)))],
    )
    assert rec.ttft == pytest.approx(0.1)
    assert rec.e2e == pytest.approx(0.6)
    assert rec.tpot == pytest.approx((0.6 - 0.1) / 2)
    assert rec.itls == pytest.approx([0.2, 0.3])
    assert rec.usage_problem() is None


def test_role_only_and_usage_only_chunks_are_not_tokens() -> None:
    # chat: a role-only first chunk at 10.05 must not count as the first token
    rec = record(max_tokens=2)
    apply_stream(
        rec,
        [
            (10.05, sse(delta(role="assistant", content=""))),
            (10.2, sse(delta(content="Hi"))),
            (10.25, sse(delta(content="!"))),
            (
                10.4,
                sse(
                    {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}, usage(4, 2)
                ),
            ),
        ],
    )
    assert rec.ttft == pytest.approx(0.2)
    assert rec.e2e == pytest.approx(0.25)  # the finish and usage chunks carry no text
    assert rec.itls == pytest.approx([0.05])


def test_reasoning_counts_as_output() -> None:
    rec = record(max_tokens=2)
    apply_stream(
        rec, [(10.3, sse(delta(reasoning="hmm"))), (10.5, sse(delta(content="ok"), usage(4, 2)))]
    )
    assert rec.ttft == pytest.approx(0.3)


def test_multi_token_chunks_use_usage_for_tpot() -> None:
    # 8 tokens in 3 chunks: TPOT divides by 7 output tokens after the first, ITL has 2 gaps
    rec = record(max_tokens=8)
    apply_stream(
        rec,
        [
            (10.2, sse(text(" one two three"))),
            (10.5, sse(text(" four five"))),
            (10.9, sse(text(" six seven eight"), usage(4, 8))),
        ],
    )
    assert rec.output_tokens == 8
    assert rec.tpot == pytest.approx((0.9 - 0.2) / 7)
    assert rec.itls == pytest.approx([0.3, 0.4])


def test_events_split_across_reads_take_the_time_of_the_completing_read() -> None:
    body = sse(text(" a"), text(" b"))
    cut = body.index(b"\n\n") - 5  # the first event ends in the second read
    events = split_events([(1.0, body[:cut]), (2.0, body[cut:])])
    assert [t for t, _ in events] == [2.0, 2.0, 2.0]
    assert events[-1][1] == b"[DONE]"


def test_comments_and_crlf_are_handled() -> None:
    body = b": keep-alive\r\n\r\ndata: " + json.dumps(text(" a")).encode() + b"\r\n\r\n"
    assert split_events([(1.0, body)]) == [(1.0, json.dumps(text(" a")).encode())]


def test_usage_mismatch_is_reported() -> None:
    rec = record(prompt=4, max_tokens=3)
    apply_stream(rec, [(10.1, sse(text(" a"), text(" b"), usage(5, 2)))])
    problem = rec.usage_problem()
    assert "prompt_tokens 5 != 4" in problem and "completion_tokens 2 != 3" in problem
    missing = record()
    apply_stream(missing, [(10.1, sse(text(" a")))])
    assert "no usage" in missing.usage_problem()


def test_bad_streams_become_errors() -> None:
    rec = record()
    apply_stream(rec, [(10.1, b"data: {not json\n\n")])
    assert rec.error.startswith("undecodable stream event")
    empty = record()
    apply_stream(empty, [(10.1, sse(usage(4, 0)))])
    assert empty.error == "the stream carried no text"


def test_summary_throughputs_and_goodput_by_hand() -> None:
    a = RequestRecord(
        0,
        10,
        3,
        sent_at=0.0,
        done_at=1.0,
        content_times=[0.2, 0.6, 1.0],
        usage_prompt_tokens=10,
        usage_completion_tokens=3,
    )
    b = RequestRecord(
        1,
        10,
        3,
        sent_at=1.0,
        done_at=2.0,
        content_times=[1.5, 1.7, 2.0],
        usage_prompt_tokens=10,
        usage_completion_tokens=3,
    )
    failed = RequestRecord(2, 10, 3, sent_at=0.5, done_at=0.6, error="HTTP 500")
    summary = summarize([a, b, failed], slos_ms={"ttft": 300})
    assert summary["completed"] == 2 and summary["failed"] == 1
    assert summary["duration_s"] == pytest.approx(2.0)
    assert summary["output_throughput"] == pytest.approx(6 / 2.0)
    assert summary["total_token_throughput"] == pytest.approx(26 / 2.0)
    assert summary["request_throughput"] == pytest.approx(1.0)
    assert summary["ttft_ms"]["mean"] == pytest.approx(350.0)
    assert summary["tpot_ms"]["median"] == pytest.approx((400 + 250) / 2)
    assert summary["itl_ms"]["count"] == 4
    assert summary["goodput"]["good_requests"] == 1  # b's TTFT 500 ms misses 300 ms
    assert summary["goodput"]["request_goodput"] == pytest.approx(0.5)


def test_distribution_percentiles_by_hand() -> None:
    stats = distribution([0.001 * v for v in range(1, 101)])  # 1..100 ms
    assert stats["count"] == 100
    assert stats["mean"] == pytest.approx(50.5)
    assert stats["median"] == pytest.approx(50.5)
    assert stats["p90"] == pytest.approx(90.1)
    assert stats["p99"] == pytest.approx(99.01)
    assert distribution([])["median"] is None
