"""The outbox: a write-then-publish path never left half-done when the broker is down,
and the previous release's tournaments outbox drained into it.

The gateway (and, where said, a worker) reaches RabbitMQ through a proxy the test cuts;
the other workers reach it directly.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest
from tournaments.contracts import player_message_id
from tournaments.domain import Player, Tournament, bye

from tests.fakes.payments_signing import stripe_event, stripe_header
from tests.fakes.tournaments_play import enter, finished, pending_round, post_result, start
from tests.fakes.tournaments_support import drain
from tests.support import ADMIN_KEY, Stack, eventually, proxied

pytestmark = pytest.mark.e2e

SECRET = "whsec_outbox_0123456789"
SWEEP = {"OUTBOX_SWEEP_AFTER": "1", "OUTBOX_SWEEP_INTERVAL": "0.5"}


def count(env: dict[str, Any], query: str) -> int:
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0


def test_webhook_answered_503_while_the_broker_is_down_is_applied_once_it_is_back(
    stack: Stack, env: dict[str, Any]
) -> None:
    with proxied(env["RABBITMQ_URL"], 5672) as rabbit:
        stack.start(
            "gateway",
            RABBITMQ_URL=rabbit.url(env["RABBITMQ_URL"]),
            STRIPE_WEBHOOK_SECRET=SECRET,
            **SWEEP,
        )
        stack.start("payments", STRIPE_WEBHOOK_SECRET=SECRET)
        stack.wait_ready()
        stack.wait_consuming("payments.stripe")
        with stack.client() as client:
            payment = client.post(
                "/v1/payments",
                json={"amount": 1500, "currency": "USD", "provider": "stripe", "reference": "o-1"},
            ).json()
            payload = stripe_event("payment_intent.succeeded", payment["id"], amount=1500)
            headers = {
                "Stripe-Signature": stripe_header(payload, SECRET),
                "Content-Type": "application/json",
            }
            rabbit.cut()
            started = time.monotonic()
            answer = client.post("/v1/webhooks/stripe", content=payload, headers=headers)
            assert answer.status_code == 503 and "Retry-After" in answer.headers
            assert time.monotonic() - started < 5
            assert count(env, "SELECT count(*) FROM runtime.outbox") == 1, "the job is kept"
            assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"

            rabbit.restore()  # and the provider never sends the event again

            def applied() -> bool:
                shown = client.get(f"/v1/payments/{payment['id']}").json()
                return bool(shown["status"] == "succeeded")

            eventually(applied, timeout=60, interval=0.2)
        assert count(env, "SELECT count(*) FROM runtime.outbox") == 0
        assert count(env, "SELECT count(*) FROM payments.webhook_events") == 1


def test_single_send_refused_by_the_broker_leaves_no_row_and_no_job(
    stack: Stack, env: dict[str, Any]
) -> None:
    with proxied(env["RABBITMQ_URL"], 5672) as rabbit:
        stack.start("gateway", RABBITMQ_URL=rabbit.url(env["RABBITMQ_URL"]), **SWEEP)
        stack.wait_ready()
        with stack.client(**{"Idempotency-Key": str(uuid.uuid4())}) as client:
            rabbit.cut()
            answer = client.post("/v1/sms", json={"to": "+15005550006", "message": "hi"})
            assert answer.status_code == 503
        # Withdrawn with its row before the answer: the sweeper has nothing to send later.
        assert count(env, "SELECT count(*) FROM sms.messages") == 0
        assert count(env, "SELECT count(*) FROM runtime.outbox") == 0


def test_match_decided_while_the_broker_is_down_answers_200_and_its_follow_ups_come_once(
    stack: Stack, env: dict[str, Any]
) -> None:
    # No sweeper in reach of this test: the worker's relay publishes them, or nobody.
    late_sweep = {"OUTBOX_SWEEP_AFTER": "600"}
    with proxied(env["RABBITMQ_URL"], 5672) as rabbit:
        through_proxy = rabbit.url(env["RABBITMQ_URL"])
        stack.start("gateway", RABBITMQ_URL=through_proxy, **late_sweep)
        stack.start("tournaments", RABBITMQ_URL=through_proxy, **late_sweep)
        stack.wait_ready()
        stack.wait_consuming("tournaments.advance")
        with stack.client() as organiser, stack.client(ADMIN_KEY) as admin:
            cup = enter(organiser, 2)
            start(admin)
            [final] = pending_round(organiser, cup.id, 1)

            rabbit.cut()
            started = time.monotonic()
            decided = post_result(organiser, cup.id, final["id"], cup.players[1])
            # Committed: the answer never waits for the broker, and is never a 503.
            assert decided.status_code == 200, decided.text
            assert time.monotonic() - started < 3
            assert count(env, "SELECT count(*) FROM runtime.outbox") == 5, "players told, advance"

            rabbit.restore()
            # The relay tries them again, and the worker finishes the tournament.
            assert finished(organiser, cup.id, timeout=60)["champion"] == cup.players[1]
        eventually(lambda: count(env, "SELECT count(*) FROM runtime.outbox") == 0, timeout=30)

    told = Counter(
        m.message_id
        for queue in ("notifications.normal", "notifications.high")
        for m in drain(env["RABBITMQ_URL"], queue)
    )
    match_id, tournament_id = uuid.UUID(final["id"]), uuid.UUID(cup.id)
    winner, loser = (uuid.UUID(p) for p in (cup.players[1], cup.players[0]))
    expected = [
        *(player_message_id(match_id, player, "match") for player in (winner, loser)),
        player_message_id(match_id, winner, "won"),
        player_message_id(match_id, loser, "eliminated"),
        player_message_id(tournament_id, winner, "final"),
        player_message_id(tournament_id, loser, "final"),
    ]
    assert told == Counter({str(message_id): 1 for message_id in expected})


def test_rows_the_previous_release_left_unpublished_are_published_by_a_new_worker(
    stack: Stack, env: dict[str, Any]
) -> None:
    stack.start("gateway")  # brings every schema up to date
    stack.wait_ready()
    # What the previous release's `outbox.add` wrote and no relay of it published.
    tournament = Tournament(uuid.uuid4(), "Left behind")
    player = Player(uuid.uuid4(), "user-1", "Ada", "ada@example.test")
    left = [
        f for f in bye(tournament, 1, uuid.uuid4(), player) if f.queue.name != "tournaments.email"
    ]
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        for follow_up in left:
            connection.execute(
                """
                INSERT INTO tournaments.outbox (id, queue, job_type, payload, created_at)
                VALUES (%s, %s, %s, %s, now() - interval '2 minutes')
                """,
                (
                    follow_up.id,
                    follow_up.queue.name,
                    follow_up.job_type,
                    follow_up.job.model_dump_json(),
                ),
            )

    stack.start("tournaments")

    def adopted() -> bool:
        unpublished = "SELECT count(*) FROM tournaments.outbox WHERE published_at IS NULL"
        return (
            count(env, unpublished) == 0 and count(env, "SELECT count(*) FROM runtime.outbox") == 0
        )

    eventually(adopted, timeout=60)
    [told] = drain(env["RABBITMQ_URL"], "notifications.normal")
    assert told.message_id == str(left[0].id) == told.body["id"]


def test_a_worker_alone_sweeps_what_a_dead_process_left_staged(
    stack: Stack, env: dict[str, Any]
) -> None:
    # No gateway: the worker's own sweeper must find it.
    stack.start("tournaments", **SWEEP)
    stack.wait_consuming("tournaments.advance")
    message_id = str(uuid.uuid4())
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        # What a process that died right after its commit leaves behind.
        connection.execute(
            """
            INSERT INTO runtime.outbox (id, exchange, routing_key, message_id, job_type, body)
            VALUES (%s, 'notifications', 'notifications.normal', %s, 'CreateNotification', %s)
            """,
            (
                uuid.uuid4(),
                message_id,
                b'{"id": "%s", "user_id": "user-1", "title": "Hi", "message": "Left"}'
                % message_id.encode(),
            ),
        )
    eventually(lambda: count(env, "SELECT count(*) FROM runtime.outbox") == 0, timeout=30)
    [swept] = drain(env["RABBITMQ_URL"], "notifications.normal")
    assert swept.message_id == message_id == swept.body["id"]
