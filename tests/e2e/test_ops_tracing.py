"""One trace from the gateway's HTTP request to the worker's consume, across two processes."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.ops_support import DEMO, Demo, broken_flag, start_demo_worker
from tests.support import ADMIN_KEY, eventually, eventually_async

CONSOLE = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "200"}


def spans_in(log_text: str) -> list[dict[str, Any]]:
    """The console exporter's spans: pretty-printed JSON objects among the JSON log lines."""
    decoder = json.JSONDecoder()
    spans, position = [], 0
    while (start := log_text.find("{\n", position)) != -1:
        try:
            found, end = decoder.raw_decode(log_text, start)
        except ValueError:
            position = start + 1
            continue
        if isinstance(found, dict) and "context" in found and "kind" in found:
            spans.append(found)
        position = end
    return spans


async def test_gateway_request_span_and_worker_consume_span_share_one_trace(
    stack: Any, runtime_factory: Any
) -> None:
    for label in ("gateway", "opsdemo"):  # the logs of an earlier run hold other spans
        (stack.logs / f"{label}.log").unlink(missing_ok=True)
    stack.start("gateway", **CONSOLE)
    start_demo_worker(stack, **CONSOLE)
    stack.wait_ready()
    stack.wait_consuming(DEMO.name)
    runtime = await runtime_factory([DEMO])
    await runtime.redis.set(broken_flag(runtime.settings), "1")
    message_id = await runtime.publisher.publish(DEMO, Demo(n=7, fail=True))
    [failed] = await eventually_async(runtime.failed_jobs.list, timeout=30)
    await runtime.redis.delete(broken_flag(runtime.settings))

    # The operator's retry request: the gateway's server span publishes the job again.
    with stack.client(ADMIN_KEY) as client:
        assert client.post(f"/v1/ops/failed/{failed.id}/retry").status_code == 202

    def server_span() -> dict[str, Any]:
        found = [
            s
            for s in spans_in(stack.tail("gateway", 100_000))
            if s["name"] == "POST /v1/ops/failed/{failed_id}/retry"
        ]
        assert len(found) == 1, "the gateway has not exported the request's span yet"
        return found[0]

    server = eventually(server_span, timeout=30)
    assert server["kind"] == "SpanKind.SERVER"
    trace_id = server["context"]["trace_id"]

    def consume_span() -> dict[str, Any]:
        found = [
            s
            for s in spans_in(stack.tail("opsdemo", 100_000))
            if s["name"] == f"consume {DEMO.name}" and s["context"]["trace_id"] == trace_id
        ]
        assert len(found) == 1, "no consume span in the gateway request's trace yet"
        return found[0]

    consume = eventually(consume_span, timeout=30)
    assert consume["kind"] == "SpanKind.CONSUMER"
    assert consume["parent_id"] == server["context"]["span_id"]
    assert consume["attributes"]["messaging.message.id"] == message_id
