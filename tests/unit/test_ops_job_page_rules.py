"""The job page's pure parts: span trees, Jaeger's answer, Slack's format, queue names."""

from __future__ import annotations

from common.alerts.channels import Alert, slack_message
from common.control import is_work_queue
from common.telemetry.span_buffer import RecentTraces, subtree
from gateway.ops.jaeger import spans_from_jaeger, trace_link
from gateway.ops.job_details import safe_preview


def _span(span_id: str, parent: str | None, start: float) -> dict[str, object]:
    return {"span_id": span_id, "parent_id": parent, "start": start, "name": span_id}


def test_an_attempts_spans_are_the_subtree_of_its_consume_span() -> None:
    spans = [
        _span("a1", None, 1.0),  # attempt 1's consume span
        _span("q1", "a1", 1.1),
        _span("a2", None, 5.0),  # attempt 2's, same trace
        _span("h2", "q2", 5.3),
        _span("q2", "a2", 5.1),
    ]
    assert [s["span_id"] for s in subtree(spans, "a2")] == ["a2", "q2", "h2"]
    assert [s["span_id"] for s in subtree(spans, "a1")] == ["a1", "q1"]


def test_recent_traces_buffer_is_bounded() -> None:
    buffer = RecentTraces(max_traces=2, max_spans=1)
    buffer._traces["t1"] = [_span("x", None, 0)]
    buffer._traces["t2"] = []
    assert buffer.spans_under("t1", "x")[0]["span_id"] == "x"
    assert buffer.spans_under("unknown", "x") == []


def test_jaeger_answer_becomes_span_summaries() -> None:
    answer = {
        "data": [
            {
                "processes": {"p1": {"serviceName": "sms"}},
                "spans": [
                    {
                        "operationName": "POST",
                        "spanID": "b",
                        "references": [{"refType": "CHILD_OF", "spanID": "a"}],
                        "startTime": 2_000_000,
                        "duration": 1500,
                        "processID": "p1",
                        "tags": [{"key": "span.kind", "value": "client"}],
                    },
                    {"operationName": "consume sms.send", "spanID": "a", "startTime": 1_000_000,
                     "duration": 9000, "processID": "p1", "tags": [{"key": "error", "value": True}]},
                ],
            }
        ]
    }  # fmt: skip
    root, call = spans_from_jaeger(answer)
    assert (root["name"], root["parent_id"], root["status"]) == ("consume sms.send", None, "error")
    assert (call["parent_id"], call["kind"], call["duration_ms"]) == ("a", "client", 1.5)
    assert call["attributes"]["service"] == "sms"
    assert trace_link("http://jaeger:16686/", "ab" * 16) == f"http://jaeger:16686/trace/{'ab' * 16}"
    assert trace_link("", "ab") is None


def test_slack_message_has_text_and_blocks() -> None:
    alert = Alert(kind="long_wait", queue="q", value=90, threshold=60, text="slow", at=0)
    message = slack_message(alert)
    assert message["text"] == "slow" and message["blocks"][0]["type"] == "section"


def test_only_work_queues_can_be_paused() -> None:
    assert is_work_queue("sms.bulk")
    assert not is_work_queue("sms.bulk.retry.10s") and not is_work_queue("sms.bulk.parked")


def test_payload_preview_masks_and_marks_a_cut() -> None:
    preview = safe_preview('{"to": "+24177000012", "api_key": "x"}', truncated=True)
    assert "+24177000012" not in preview and "[scrubbed]" in preview
    assert preview.endswith("(cut: the failed-job store keeps whole payloads)")
    assert safe_preview("not json +24177000012", truncated=False) == "not json +•••••••••12"
