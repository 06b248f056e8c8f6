"""A job's spans: every query, provider call, Redis command and e-mail of a job hangs under
its consume span (`consume sms.send`, `consume tournaments.email`), and its page (the ops
API's view of it) lists them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import start_sms, wait_for_status
from tests.fakes.tournaments_smtp import SmtpSink
from tests.fakes.tournaments_support import start
from tests.support import ADMIN_KEY, USER_KEY, Stack, eventually

pytestmark = pytest.mark.e2e


def test_sms_send_job_lists_its_query_provider_and_redis_spans_under_its_consume_span(
    stack: Stack,
) -> None:
    with FakeProvider() as fake:
        start_sms(stack, fake, OTEL_TRACES_EXPORTER="memory")
        with stack.client() as client, stack.client(ADMIN_KEY) as admin:
            sent = client.post("/v1/sms", json={"to": "+24177000001", "message": "Bonjour"})
            assert sent.status_code == 202, sent.text
            sms_id = sent.json()["id"]
            wait_for_status(client, sms_id, "sent")

            def recorded() -> dict[str, Any]:
                found = admin.get("/v1/ops/jobs", params={"q": f"sms:{sms_id}"}).json()
                assert len(found) == 1, found
                job = found[0]
                details = admin.get(f"/v1/ops/jobs/{job['id']}").json()
                assert details["spans"], "the attempt's spans are not recorded yet"
                return dict(details)

            details = eventually(recorded, timeout=30)
    spans: list[dict[str, Any]] = details["spans"]
    [root] = [s for s in spans if s["name"] == "consume sms.send"]
    assert root["kind"] == "consumer" and details["spans_source"] == "recorded"
    by_id = {s["span_id"]: s for s in spans}
    for span in spans:  # every span leads up to the job's consume span
        walk = span
        while walk["parent_id"] in by_id:
            walk = by_id[walk["parent_id"]]
        assert walk is root, span["name"]
    systems = {s["attributes"].get("db.system") for s in spans}
    assert "postgresql" in systems, [s["name"] for s in spans]
    assert "redis" in systems, [s["name"] for s in spans]
    [provider_call] = [
        s
        for s in spans
        if "/sms" in str(s["attributes"].get("url.full", s["attributes"].get("http.url", "")))
    ]
    assert provider_call["kind"] == "client" and provider_call["status"] == "ok"
    assert len(details["trace_id"]) == 32


def test_a_tournament_email_job_lists_its_smtp_send_span_under_its_consume_span(
    stack: Stack,
) -> None:
    with SmtpSink().start() as sink:
        start(stack, "gateway")
        start(
            stack,
            "tournaments",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=sink.port,
            OTEL_TRACES_EXPORTER="memory",
        )
        stack.wait_ready()
        stack.wait_consuming("tournaments.email")
        with stack.client(USER_KEY) as user, stack.client(ADMIN_KEY) as admin:
            created = user.post("/v1/tournaments", json={"name": "Spans Cup", "capacity": 4})
            url = f"/v1/tournaments/{created.json()['id']}"
            joined = user.post(f"{url}/players", json={"name": "Ada", "email": "ada@example.test"})
            assert joined.status_code == 201, joined.text
            sent = user.post(f"{url}/emails", json={"subject": "Draw", "body": "Tonight"})
            assert sent.status_code == 202, sent.text
            eventually(lambda: len(sink.snapshot()) == 1, timeout=30)

            def recorded() -> dict[str, Any]:
                jobs = admin.get("/v1/ops/jobs", params={"limit": 500}).json()
                found = [j for j in jobs if j["queue"] == "tournaments.email"]
                assert len(found) == 1, jobs
                [job] = found
                details = admin.get(f"/v1/ops/jobs/{job['id']}").json()
                assert any(s["name"] == "smtp send" for s in details["spans"]), details["spans"]
                return dict(details)

            details = eventually(recorded, timeout=30)
    spans: list[dict[str, Any]] = details["spans"]
    [root] = [s for s in spans if s["name"] == "consume tournaments.email"]
    [smtp] = [s for s in spans if s["name"] == "smtp send"]
    assert smtp["parent_id"] == root["span_id"] and smtp["kind"] == "client"
    assert smtp["status"] == "ok"
    assert smtp["attributes"]["server.port"] == sink.port
    assert smtp["attributes"]["smtp.recipients"] == 1
