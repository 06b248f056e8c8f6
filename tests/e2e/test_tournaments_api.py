"""Tournaments over HTTP: the gateway, the tournaments worker and an SMTP sink on localhost."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.fakes.tournaments_smtp import SmtpSink
from tests.fakes.tournaments_support import outcomes, start
from tests.support import ADMIN_KEY, OTHER_KEY, USER_KEY, Stack, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


def _up(stack: Stack, sink: SmtpSink, workers: int = 1, **env: Any) -> None:
    start(stack, "gateway")
    for replica in range(1, workers + 1):
        start(
            stack,
            "tournaments",
            replica=replica if workers > 1 else None,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=sink.port,
            JOB_RETRY_DELAYS="0.2,0.5",
            **env,
        )
    stack.wait_ready()
    if workers:
        stack.wait_consuming("tournaments.email", consumers=workers)


def test_capacity_two_fills_then_check_full_and_auto_start_start_it_with_a_match(
    stack: Stack, sink: SmtpSink
) -> None:
    _up(stack, sink)
    with stack.client(USER_KEY) as user, stack.client(ADMIN_KEY) as admin:
        created = user.post("/v1/tournaments", json={"name": "Spring Cup", "capacity": 2})
        assert created.status_code == 201, created.text
        tournament = created.json()
        assert tournament["status"] == "open" and tournament["players"] == []
        url = f"/v1/tournaments/{tournament['id']}"

        ids = []
        for name in ("Ada", "Bob"):
            joined = user.post(f"{url}/players", json={"name": name, "email": f"{name}@x.test"})
            assert joined.status_code == 201, joined.text
            ids.append(joined.json()["id"])
        third = user.post(f"{url}/players", json={"name": "Cy", "email": "cy@x.test"})
        assert third.status_code == 409 and "full" in third.json()["detail"]
        assert user.get(url).json()["status"] == "full"

        for job in ("check_full", "auto_start"):
            run = admin.post(f"/v1/ops/schedule/{job}/run")
            assert run.status_code == 202, run.text
            assert run.json()["queue"] == f"tournaments.{job}"

        def started() -> dict[str, Any]:
            body: dict[str, Any] = user.get(url).json()
            assert body["status"] == "started", body["status"]
            # auto_start hands each started tournament to tournaments.advance (round 0),
            # which creates the first round a moment later.
            assert body["round"] == 1, body["round"]
            return body

        body = eventually(started, timeout=30)
        [match] = body["matches"]
        assert match["players"] == ids and match["status"] == "pending"
        deadline = datetime.fromisoformat(match["deadline"])
        expected = datetime.now(UTC) + timedelta(minutes=1440)
        assert abs((deadline - expected).total_seconds()) < 120

        late = user.post(f"{url}/players", json={"name": "Dee", "email": "dee@x.test"})
        assert late.status_code == 409 and "started" in late.json()["detail"]


def test_tournament_input_is_validated_and_scoped_to_its_users(
    stack: Stack, sink: SmtpSink
) -> None:
    _up(stack, sink, workers=0)
    with (
        stack.client(USER_KEY) as user,
        stack.client(OTHER_KEY) as other,
        stack.client(ADMIN_KEY) as admin,
    ):
        for capacity in (1, 1025):
            bad = user.post("/v1/tournaments", json={"name": "X", "capacity": capacity})
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "capacity"
        naive = user.post(
            "/v1/tournaments", json={"name": "X", "capacity": 4, "starts_at": "2030-01-01T10:00"}
        )
        assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "starts_at"

        created = user.post(
            "/v1/tournaments",
            json={"name": "Cup", "capacity": 4, "match_deadline_minutes": 30},
            headers={"Idempotency-Key": "cup-1"},
        )
        again = user.post(
            "/v1/tournaments",
            json={"name": "Cup", "capacity": 4, "match_deadline_minutes": 30},
            headers={"Idempotency-Key": "cup-1"},
        )
        assert created.status_code == 201 and again.json()["id"] == created.json()["id"]
        url = f"/v1/tournaments/{created.json()['id']}"

        email = user.post(f"{url}/players", json={"name": "A", "email": "not-an-email"})
        assert email.status_code == 422 and email.json()["errors"][0]["field"] == "email"
        assert (
            user.post(f"{url}/players", json={"name": "A", "email": "a@x.test"}).status_code == 201
        )
        twice = user.post(f"{url}/players", json={"name": "A2", "email": "A@x.test"})
        assert twice.status_code == 409

        assert other.get(url).status_code == 404
        assert other.post(f"{url}/emails", json={"subject": "s", "body": "b"}).status_code == 404
        missing = "/v1/tournaments/00000000-0000-0000-0000-000000000000"
        assert (
            user.post(f"{missing}/players", json={"name": "A", "email": "a@x.test"}).status_code
            == 404
        )

        assert user.post("/v1/ops/schedule/check_full/run").status_code == 403
        unknown = admin.post("/v1/ops/schedule/nightly/run")
        assert unknown.status_code == 404 and "check_full" in unknown.json()["detail"]

        schedule = admin.get("/v1/ops/queues").json()["schedule"]
        assert {row["job"] for row in schedule} == {
            "check_full",
            "auto_start",
            "expire_matches",
            "warn_deadlines",
        }
        for row in schedule:
            assert datetime.fromisoformat(row["next_run"]) > datetime.now(UTC)


def test_players_see_names_only_and_a_tournament_one_may_not_see_is_404_in_every_state(
    stack: Stack, sink: SmtpSink
) -> None:
    _up(stack, sink, workers=0)
    with stack.client(ADMIN_KEY) as admin:
        created_key = admin.post("/v1/ops/keys", json={"scope": "user", "user": "stranger"})
        assert created_key.status_code == 201, created_key.text
    with (
        stack.client(USER_KEY) as organiser,
        stack.client(OTHER_KEY) as player,
        stack.client(ADMIN_KEY) as admin,
        stack.client(created_key.json()["key"]) as stranger,
    ):
        tournament = organiser.post("/v1/tournaments", json={"name": "Duo", "capacity": 2})
        url = f"/v1/tournaments/{tournament.json()['id']}"
        # Anyone who has the id may take a free seat (the id is the invitation) ...
        bob = player.post(f"{url}/players", json={"name": "Bob", "email": "bob@x.test"})
        assert bob.status_code == 201 and bob.json()["email"] == "bob@x.test"
        ada = organiser.post(f"{url}/players", json={"name": "Ada", "email": "ada@x.test"})
        assert ada.status_code == 201

        # ... a player sees the others' names, never an e-mail (not even its own back) ...
        seen = player.get(url)
        assert seen.status_code == 200
        assert [p["name"] for p in seen.json()["players"]] == ["Bob", "Ada"]
        assert all("email" not in p for p in seen.json()["players"]), seen.json()["players"]
        assert "@x.test" not in seen.text and "@x.test" not in player.get(f"{url}/bracket").text
        # ... the organiser and admins see them.
        for viewer in (organiser, admin):
            players = viewer.get(url).json()["players"]
            assert [p["email"] for p in players] == ["bob@x.test", "ada@x.test"]

        # Full, then started: those who may see it learn why they cannot join (409), anyone
        # else gets the 404 of an id that does not exist.
        missing = f"/v1/tournaments/{uuid.uuid4()}"
        joining = {"name": "Cy", "email": "cy@x.test"}
        for status in ("full", "started"):
            if status == "started":
                _set_status(stack, tournament.json()["id"], "started")
            for viewer in (organiser, player, admin):
                refused = viewer.post(f"{url}/players", json=joining)
                assert refused.status_code == 409, (status, refused.text)
            unknown = stranger.post(f"{missing}/players", json=joining)
            hidden = stranger.post(f"{url}/players", json=joining)
            assert unknown.status_code == hidden.status_code == 404, (status, hidden.text)
            assert hidden.json() == unknown.json()
            assert stranger.get(url).status_code == stranger.get(missing).status_code == 404


def _set_status(stack: Stack, tournament_id: str, status: str) -> None:
    with psycopg.connect(stack.env["DATABASE_URL"]) as connection:
        connection.execute(
            "UPDATE tournaments.tournaments SET status = %s, started_at = now() WHERE id = %s",
            (status, tournament_id),
        )


def test_bulk_email_to_200_players_arrives_once_each_at_the_pace_and_bad_recipient_fails(
    stack: Stack, sink: SmtpSink
) -> None:
    rate_per_minute = 3000  # one e-mail every 20 ms across both workers
    bad = "bounce@reject.test"
    sink.reject.add(bad)
    _up(stack, sink, workers=2, EMAIL_RATE_PER_MINUTE=rate_per_minute)
    with stack.client(USER_KEY) as user, stack.client(ADMIN_KEY) as admin:
        created = user.post("/v1/tournaments", json={"name": "Big Cup", "capacity": 256})
        url = f"/v1/tournaments/{created.json()['id']}"
        addresses = [f"player{n}@example.test" for n in range(199)] + [bad]
        for n, address in enumerate(addresses):
            joined = user.post(f"{url}/players", json={"name": f"P{n}", "email": address})
            assert joined.status_code == 201, joined.text

        sent = user.post(f"{url}/emails", json={"subject": "Final", "body": "See you there"})
        assert sent.status_code == 202, sent.text
        assert sent.json()["recipients"] == 200

        def failed() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = admin.get(
                "/v1/ops/failed", params={"queue": "tournaments.email"}
            ).json()
            return rows

        eventually(lambda: len(sink.snapshot()) >= 199, timeout=90, interval=0.2)
        [failure] = eventually(failed, timeout=30)
        assert failure["attempts"] == 1 and "550" in failure["error"]
        assert failure["payload"]["to"] == bad

    # Waiting for the pace never spent an attempt: no e-mail job was retried.
    for label in ("tournaments.1", "tournaments.2"):
        assert outcomes(stack, label, "tournaments.email")["retried"] == 0

    received = sink.snapshot()
    assert Counter(r.to for r in received) == Counter(addresses[:-1])  # once each
    assert all(r.subject == "Final" for r in received)
    times = sorted(r.at for r in received)
    # 200 tokens at 20 ms apart: the 199 deliveries span at least ~198 intervals.
    floor = (len(times) - 1) * 60 / rate_per_minute * 0.9
    assert times[-1] - times[0] >= floor, f"{times[-1] - times[0]:.2f}s < {floor:.2f}s"
