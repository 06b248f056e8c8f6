"""Tournaments that finish, over HTTP: the gateway, two tournaments workers and an SMTP sink.

One stack (its own vhost and database) serves every test of this file: each test plays
its own tournaments, and starting the processes once keeps the file fast.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import pytest
from tournaments.bracket import bracket_size, total_rounds
from tournaments.contracts import player_message_id

from tests.fakes.tournaments_play import (
    enter,
    finished,
    pending_round,
    play_to_the_end,
    post_result,
    show,
    start,
)
from tests.fakes.tournaments_smtp import SmtpSink
from tests.fakes.tournaments_support import drain, log_lines
from tests.support import (
    ADMIN_KEY,
    OTHER_KEY,
    USER_KEY,
    ServiceUrls,
    Stack,
    eventually,
    fresh_database,
    fresh_vhost,
)

pytestmark = pytest.mark.e2e

WORKERS = ("tournaments.1", "tournaments.2")
# Every kind of message a player may get about a match, and about the tournament's end.
MATCH_KINDS = ("match", "bye", "won", "eliminated", "expired", "warning")


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def played(services: ServiceUrls, sink: SmtpSink) -> Iterator[Stack]:
    with fresh_vhost(services) as vhost, fresh_database(services) as database:
        stack = Stack(
            {
                "RABBITMQ_URL": vhost,
                "RABBITMQ_MANAGEMENT_URL": services.management,
                "DATABASE_URL": database,
                "REDIS_URL": services.redis,
                "REDIS_KEY_PREFIX": f"test:{uuid.uuid4().hex[:10]}:",
                "LOG_FORMAT": "json",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": sink.port,
                "EMAIL_RATE_PER_MINUTE": 600_000,
                "JOB_RETRY_DELAYS": "0.2,0.5",
            },
            name="tournaments_brackets",
        )
        try:
            stack.start("gateway")
            for label in WORKERS:
                stack.start("tournaments", replica=int(label.rsplit(".", 1)[1]))
            stack.wait_ready(120)
            stack.wait_consuming("tournaments.advance", consumers=len(WORKERS), timeout=120)
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def organiser(played: Stack) -> Iterator[httpx.Client]:
    with played.client(USER_KEY) as client:
        yield client


@pytest.fixture
def admin(played: Stack) -> Iterator[httpx.Client]:
    with played.client(ADMIN_KEY) as client:
        yield client


def _sql(stack: Stack, statement: str, *args: Any) -> Any:
    async def run() -> Any:
        connection = await asyncpg.connect(stack.env["DATABASE_URL"])
        try:
            return await connection.fetch(statement, *args)
        finally:
            await connection.close()

    return asyncio.run(run())


@pytest.mark.parametrize("players", [2, 3, 5, 8, 16])
def test_a_tournament_of_n_players_is_played_to_a_champion(
    players: int, organiser: httpx.Client, admin: httpx.Client
) -> None:
    cup = enter(organiser, players)
    start(admin)
    body = play_to_the_end(organiser, cup.id)

    # The first player always wins: the first seat (a bye when there are byes) is champion.
    assert body["champion"] == cup.players[0]
    assert body["round"] == total_rounds(players)
    bracket = organiser.get(f"/v1/tournaments/{cup.id}/bracket").json()
    assert [r["round"] for r in bracket["rounds"]] == list(range(1, total_rounds(players) + 1))
    assert bracket["rounds_total"] == total_rounds(players)
    assert bracket["champion"] == cup.players[0]
    first = bracket["rounds"][0]["matches"]
    assert sum(m["bye"] for m in first) == bracket_size(players) - players
    for number, round_ in enumerate(bracket["rounds"], start=1):
        assert len(round_["matches"]) == bracket_size(players) >> number
        for match in round_["matches"]:
            assert match["status"] == "done" and match["winner"] == match["players"][0]
            assert (match["deadline"] is None) == match["bye"]
    [final] = bracket["rounds"][-1]["matches"]
    assert final["winner"] == cup.players[0]


def test_concurrent_results_completing_a_round_create_the_next_round_once(
    played: Stack, organiser: httpx.Client, admin: httpx.Client
) -> None:
    cups = [enter(organiser, 4) for _ in range(6)]
    start(admin)
    rounds = {cup.id: pending_round(organiser, cup.id, 1) for cup in cups}
    # Both round-1 results of every tournament at once: 12 requests, 2 workers.
    posts = [(cup_id, m["id"], m["players"][1]) for cup_id, ms in rounds.items() for m in ms]
    with ThreadPoolExecutor(len(posts)) as pool:
        answers = list(pool.map(lambda p: _post_alone(played, *p), posts))
    assert [a.status_code for a in answers] == [200] * len(posts)

    for cup in cups:
        [final] = pending_round(organiser, cup.id, 2)
        assert sorted(final["players"]) == sorted(m["players"][1] for m in rounds[cup.id])
    for cup in cups:
        body = show(organiser, cup.id)
        assert [m["round"] for m in body["matches"]] == [1, 1, 2]
    # One advance created round 2 of each (it logs after publishing: wait for the line).
    for cup in cups:
        settled = f"advance: round 1 of {cup.id} settled"

        def advanced(settled: str = settled) -> list[dict[str, Any]]:
            return [
                entry
                for label in WORKERS
                for entry in log_lines(played, label)
                if str(entry.get("msg", "")).startswith(settled)
            ]

        assert len(eventually(advanced, timeout=30)) == 1


def _post_alone(stack: Stack, cup_id: str, match_id: str, winner: str) -> httpx.Response:
    with stack.client(USER_KEY) as client:
        return post_result(client, cup_id, match_id, winner)


def test_expired_matches_mid_bracket_advance_the_one_sided_reporter_or_nobody(
    played: Stack, organiser: httpx.Client, admin: httpx.Client, sink: SmtpSink
) -> None:
    with played.client(OTHER_KEY) as other:
        # Seat 4 is registered by another user, who reports for that player.
        cup = enter(organiser, 8, registrars={4: other})
        start(admin)
        matches = pending_round(organiser, cup.id, 1)
        assert [m["players"] for m in matches] == [cup.players[i : i + 2] for i in (0, 2, 4, 6)]
        for match in matches[:2]:
            assert (
                post_result(organiser, cup.id, match["id"], match["players"][0]).status_code == 200
            )
        reported = other.post(
            f"/v1/tournaments/{cup.id}/matches/{matches[2]['id']}/report",
            json={"player": cup.players[4], "winner": cup.players[4]},
        )
        assert reported.status_code == 200, reported.text
        assert reported.json()["status"] == "pending"
        assert reported.json()["reports"][0]["winner"] == cup.players[4]

    # The deadlines of the two unplayed matches pass; expire_matches runs.
    _sql(
        played,
        "UPDATE tournaments.matches SET deadline = now() - interval '1 minute' WHERE id = ANY($1::uuid[])",
        [uuid.UUID(m["id"]) for m in matches[2:]],
    )
    assert admin.post("/v1/ops/schedule/tournaments.expire_matches/run").status_code == 202

    [second] = pending_round(organiser, cup.id, 2)
    body = show(organiser, cup.id)
    by_id = {m["id"]: m for m in body["matches"]}
    assert by_id[matches[2]["id"]]["status"] == "expired"
    assert by_id[matches[2]["id"]]["winner"] == cup.players[4]  # the one-sided report stands
    assert by_id[matches[3]["id"]]["status"] == "expired"
    assert by_id[matches[3]["id"]]["winner"] is None  # nobody reported: nobody advances
    [bye] = [m for m in body["matches"] if m["round"] == 2 and m["bye"]]
    assert bye["players"] == [cup.players[4]] and bye["winner"] == cup.players[4]
    assert second["players"] == [cup.players[0], cup.players[2]]

    assert post_result(organiser, cup.id, second["id"], cup.players[2]).status_code == 200
    [final] = pending_round(organiser, cup.id, 3)
    assert final["players"] == [cup.players[2], cup.players[4]]
    assert post_result(organiser, cup.id, final["id"], cup.players[4]).status_code == 200
    assert finished(organiser, cup.id)["champion"] == cup.players[4]

    # Each player of an expired match got one expiry e-mail.
    expiry_emails = Counter(
        str(player_message_id(uuid.UUID(match["id"]), uuid.UUID(player), "expired-email"))
        for match in matches[2:]
        for player in match["players"]
    )

    def expiries_sent() -> Counter[str]:
        sent = Counter(r.email_id for r in sink.snapshot() if r.email_id in expiry_emails)
        assert sent == expiry_emails
        return sent

    eventually(expiries_sent, timeout=30)


def test_every_player_gets_each_notification_and_email_exactly_once(
    played: Stack, organiser: httpx.Client, admin: httpx.Client, sink: SmtpSink
) -> None:
    cup = enter(organiser, 5)
    start(admin)
    body = play_to_the_end(organiser, cup.id, pick=lambda m: m["players"][-1])
    players = [uuid.UUID(p) for p in cup.players]

    expected: Counter[uuid.UUID] = Counter()
    for match in body["matches"]:
        match_id = uuid.UUID(match["id"])
        seated = [uuid.UUID(p) for p in match["players"]]
        if match["bye"]:
            kinds = {seated[0]: ["bye"]}
        else:
            winner = uuid.UUID(match["winner"])
            kinds = {p: ["match", "won" if p == winner else "eliminated"] for p in seated}
        for player, player_kinds in kinds.items():
            for kind in player_kinds:
                expected[player_message_id(match_id, player, kind)] += 1
                expected[player_message_id(match_id, player, f"{kind}-email")] += 1
    for player in players:
        for kind in ("final", "final-email"):
            expected[player_message_id(uuid.UUID(cup.id), player, kind)] += 1
    # 5 players: 3 byes, 4 matches (8 seats), 4 results, 5 final results; twice each.
    assert sum(expected.values()) == 2 * (3 + 8 + 8 + 5)

    possible = _every_possible_id(cup.id, body["matches"], players)
    published: Counter[uuid.UUID] = Counter()
    users: set[str] = set()

    def all_published() -> bool:
        for queue in ("notifications.normal", "notifications.high"):
            for message in drain(played.env["RABBITMQ_URL"], queue):
                if uuid.UUID(message.body["id"]) in possible:
                    published[uuid.UUID(message.body["id"])] += 1
                    users.add(message.body["user_id"])
        sent = [uuid.UUID(r.email_id) for r in sink.snapshot() if r.to in cup.emails]
        return sum(published.values()) + len(sent) >= sum(expected.values())

    eventually(all_published, timeout=60, interval=0.2)
    # Nothing left staged: every follow-up of this and the other tests was published.
    unpublished = _sql(played, "SELECT count(*) AS n FROM runtime.outbox")[0]["n"]
    assert unpublished == 0
    emailed = Counter(uuid.UUID(r.email_id) for r in sink.snapshot() if r.to in cup.emails)
    assert published + emailed == expected

    # In-app to the user who registered the players (the organiser here), e-mail to each.
    assert users == {"user-1"}
    assert {r.to for r in sink.snapshot() if r.to in cup.emails} == set(cup.emails)


def _every_possible_id(
    cup_id: str, matches: list[dict[str, Any]], players: list[uuid.UUID]
) -> set[uuid.UUID]:
    subjects = [uuid.UUID(m["id"]) for m in matches] + [uuid.UUID(cup_id)]
    kinds = [*MATCH_KINDS, "final"]
    return {
        player_message_id(subject, player, k)
        for subject in subjects
        for player in players
        for kind in kinds
        for k in (kind, f"{kind}-email")
    }


def test_results_are_recorded_by_the_organiser_or_an_admin_once_per_pending_match(
    played: Stack, organiser: httpx.Client, admin: httpx.Client
) -> None:
    cup = enter(organiser, 4)
    start(admin)
    first, second = pending_round(organiser, cup.id, 1)
    url = f"/v1/tournaments/{cup.id}/matches"

    with played.client(OTHER_KEY) as other:
        stranger = post_result(other, cup.id, first["id"], first["players"][0])
        assert stranger.status_code == 404
        assert other.get(f"/v1/tournaments/{cup.id}/bracket").status_code == 404
    outsider = post_result(organiser, cup.id, first["id"], cup.players[3])
    assert outsider.status_code == 409 and "one of the match's players" in outsider.json()["detail"]
    unknown = post_result(organiser, cup.id, str(uuid.uuid4()), first["players"][0])
    assert unknown.status_code == 404
    invalid = organiser.post(f"{url}/{first['id']}/result", json={"winner": "someone"})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "winner"

    key = {"Idempotency-Key": f"result-{first['id']}"}
    decided = organiser.post(
        f"{url}/{first['id']}/result", json={"winner": first["players"][1]}, headers=key
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "done"
    assert decided.json()["winner"] == first["players"][1]
    replayed = organiser.post(
        f"{url}/{first['id']}/result", json={"winner": first["players"][1]}, headers=key
    )
    assert replayed.status_code == 200 and replayed.json() == decided.json()
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    again = post_result(organiser, cup.id, first["id"], first["players"][0])
    assert again.status_code == 409 and "done" in again.json()["detail"]

    by_admin = post_result(admin, cup.id, second["id"], second["players"][0])
    assert by_admin.status_code == 200 and by_admin.json()["winner"] == second["players"][0]
    [final] = pending_round(organiser, cup.id, 2)
    assert final["players"] == [first["players"][1], second["players"][0]]


def test_players_reports_that_agree_decide_the_match_and_others_are_refused(
    played: Stack, organiser: httpx.Client, admin: httpx.Client
) -> None:
    with played.client(OTHER_KEY) as other:
        cup = enter(organiser, 2, registrars={1: other})
        start(admin)
        [match] = pending_round(organiser, cup.id, 1)
        url = f"/v1/tournaments/{cup.id}/matches/{match['id']}/report"

        not_yours = other.post(url, json={"player": cup.players[0], "winner": cup.players[0]})
        assert not_yours.status_code == 404
        stranger = other.post(url, json={"player": cup.players[1], "winner": str(uuid.uuid4())})
        assert stranger.status_code == 409

        one = other.post(url, json={"player": cup.players[1], "winner": cup.players[0]})
        assert one.status_code == 200 and one.json()["status"] == "pending"
        both = organiser.post(url, json={"player": cup.players[0], "winner": cup.players[0]})
        assert both.status_code == 200 and both.json()["status"] == "done"
        assert both.json()["winner"] == cup.players[0]
        late = other.post(url, json={"player": cup.players[1], "winner": cup.players[1]})
        assert late.status_code == 409

    assert finished(organiser, cup.id)["champion"] == cup.players[0]


def test_periodic_jobs_run_by_their_contract_name_or_short_name(admin: httpx.Client) -> None:
    for name in ("tournaments.check_full", "check_full"):
        run = admin.post(f"/v1/ops/schedule/{name}/run")
        assert run.status_code == 202, run.text
        assert run.json()["job"] == "check_full"
        assert run.json()["queue"] == "tournaments.check_full"
    unknown = admin.post("/v1/ops/schedule/tournaments.email/run")
    assert unknown.status_code == 404 and "tournaments.check_full" in unknown.json()["detail"]


def test_dashboard_shows_tournaments_in_play_by_status_and_round(
    played: Stack, organiser: httpx.Client, admin: httpx.Client
) -> None:
    waiting = enter(organiser, 3)
    start(admin)
    pending_round(organiser, waiting.id, 1)
    enter(organiser, 2)  # full, not started
    with httpx.Client(base_url=played.url, timeout=15) as browser:
        login = browser.post("/dashboard/login", data={"key": ADMIN_KEY}, follow_redirects=False)
        assert login.status_code == 303
        panel = browser.get("/dashboard/sections").json()["tournaments"]
    assert "Tournaments in play" in panel
    rows = [line for line in panel.split("<tr>") if "<td>" in line]
    assert any(">started<" in row and '"num">1<' in row for row in rows), panel
    assert any(">full<" in row for row in rows), panel
