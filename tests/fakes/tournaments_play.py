"""Playing tournaments over HTTP, as an organiser would: create, fill, start, post results."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import eventually

# Who wins a pending match: given the match (as GET shows it), the winner's player id.
Pick = Callable[[dict[str, Any]], str]


def first_player(match: dict[str, Any]) -> str:
    winner: str = match["players"][0]
    return winner


@dataclass(frozen=True)
class Entered:
    id: str
    players: list[str]  # player ids in join order
    emails: list[str]


def enter(
    organiser: httpx.Client,
    players: int,
    *,
    name: str | None = None,
    deadline_minutes: int = 1440,
    registrars: dict[int, httpx.Client] | None = None,
) -> Entered:
    """A tournament of exactly `players` seats, filled (so `full`); `registrars` maps a
    seat to the client of the user who registers that player (default: the organiser)."""
    tag = uuid.uuid4().hex[:8]
    created = organiser.post(
        "/v1/tournaments",
        json={
            "name": name or f"Cup {tag}",
            "capacity": players,
            "match_deadline_minutes": deadline_minutes,
        },
    )
    assert created.status_code == 201, created.text
    url = f"/v1/tournaments/{created.json()['id']}"
    ids, emails = [], []
    for seat in range(players):
        email = f"p{seat}-{tag}@play.test"
        client = (registrars or {}).get(seat, organiser)
        joined = client.post(f"{url}/players", json={"name": f"P{seat}", "email": email})
        assert joined.status_code == 201, joined.text
        ids.append(joined.json()["id"])
        emails.append(email)
    return Entered(created.json()["id"], ids, emails)


def start(admin: httpx.Client) -> None:
    """Run auto_start now, by the job's name in the contract."""
    run = admin.post("/v1/ops/schedule/tournaments.auto_start/run")
    assert run.status_code == 202, run.text


def show(client: httpx.Client, tournament_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/tournaments/{tournament_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def pending_round(
    client: httpx.Client, tournament_id: str, round_number: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """The pending matches of `round_number`, once that round exists."""

    def created() -> list[dict[str, Any]]:
        body = show(client, tournament_id)
        assert body["round"] >= round_number, f"at round {body['round']}"
        return [
            m for m in body["matches"] if m["round"] == round_number and m["status"] == "pending"
        ]

    return eventually(created, timeout=timeout, interval=0.1)


def finished(client: httpx.Client, tournament_id: str, timeout: float = 60) -> dict[str, Any]:
    def over() -> dict[str, Any]:
        body = show(client, tournament_id)
        assert body["status"] == "finished", body["status"]
        return body

    return eventually(over, timeout=timeout, interval=0.1)


def post_result(
    client: httpx.Client, tournament_id: str, match_id: str, winner: str
) -> httpx.Response:
    return client.post(
        f"/v1/tournaments/{tournament_id}/matches/{match_id}/result", json={"winner": winner}
    )


def play_to_the_end(
    organiser: httpx.Client, tournament_id: str, pick: Pick = first_player, timeout: float = 60
) -> dict[str, Any]:
    """Post a result for every pending match, round after round, until `finished`."""
    played = 0  # the last round whose results were posted
    while True:
        # Wait for the advance job to create the next round (or to finish the tournament).
        body: dict[str, Any] = eventually(
            lambda after=played: _moved(organiser, tournament_id, after),
            timeout=timeout,
            interval=0.1,
        )
        if body["status"] == "finished":
            return body
        for match in body["matches"]:
            if match["round"] == body["round"] and match["status"] == "pending":
                answer = post_result(organiser, tournament_id, match["id"], pick(match))
                assert answer.status_code == 200, answer.text
        played = body["round"]


def _moved(client: httpx.Client, tournament_id: str, after: int) -> dict[str, Any] | None:
    """The tournament once it is past round `after`, or finished."""
    body = show(client, tournament_id)
    return body if body["round"] > after or body["status"] == "finished" else None
