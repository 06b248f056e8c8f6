"""Test data and broker inspection for the tournaments tests (real Postgres and RabbitMQ)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg
import pika

from tests.support import Stack


@dataclass(frozen=True)
class SeededMatch:
    tournament_id: uuid.UUID
    match_id: uuid.UUID
    players: tuple[uuid.UUID, uuid.UUID]
    users: tuple[str, str]
    emails: tuple[str, str]


async def seed_match(
    connection: asyncpg.Connection, deadline_in_seconds: float, tag: str | None = None
) -> SeededMatch:
    """A started tournament with two players and one pending match due in `deadline_in_seconds`."""
    tag = tag or uuid.uuid4().hex[:8]
    tournament_id = uuid.uuid4()
    players = (uuid.uuid4(), uuid.uuid4())
    users = (f"user-{tag}-a", f"user-{tag}-b")
    emails = (f"a-{tag}@example.test", f"b-{tag}@example.test")
    match_id = uuid.uuid4()
    async with connection.transaction():
        await connection.execute(
            """
            INSERT INTO tournaments.tournaments
                (id, owner_id, name, capacity, status, match_deadline_minutes, player_count, started_at)
            VALUES ($1, 'organiser', $2, 2, 'started', 60, 2, now())
            """,
            tournament_id,
            f"Cup {tag}",
        )
        for player_id, user, email in zip(players, users, emails, strict=True):
            await connection.execute(
                """
                INSERT INTO tournaments.players (id, tournament_id, user_id, name, email)
                VALUES ($1, $2, $3, $4, $5)
                """,
                player_id,
                tournament_id,
                user,
                f"Player {user}",
                email,
            )
        await connection.execute(
            """
            INSERT INTO tournaments.matches
                (id, tournament_id, round, position, player1_id, player2_id, deadline)
            VALUES ($1, $2, 1, 0, $3, $4, now() + make_interval(secs => $5))
            """,
            match_id,
            tournament_id,
            players[0],
            players[1],
            deadline_in_seconds,
        )
    return SeededMatch(tournament_id, match_id, players, users, emails)


@dataclass(frozen=True)
class SeededTournament:
    tournament_id: uuid.UUID
    players: list[uuid.UUID]  # in join order


async def seed_started(connection: asyncpg.Connection, players: int) -> SeededTournament:
    """A tournament just started by auto_start (round 0) with `players` players."""
    tag = uuid.uuid4().hex[:8]
    tournament_id = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(players)]
    async with connection.transaction():
        await connection.execute(
            """
            INSERT INTO tournaments.tournaments
                (id, owner_id, name, capacity, status, match_deadline_minutes, player_count,
                 started_at)
            VALUES ($1, 'organiser', $2, $3, 'started', 60, $3, now())
            """,
            tournament_id,
            f"Cup {tag}",
            players,
        )
        await connection.executemany(
            """
            INSERT INTO tournaments.players (id, tournament_id, user_id, name, email, joined_at)
            VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
            """,
            [
                (player, tournament_id, f"user-{tag}-{n}", f"P{n}", f"p{n}-{tag}@example.test", n)
                for n, player in enumerate(ids)
            ],
        )
    return SeededTournament(tournament_id, ids)


@dataclass(frozen=True)
class Drained:
    message_id: str | None
    type: str | None
    body: dict[str, Any]


def drain(amqp_url: str, queue: str) -> list[Drained]:
    """Take every ready message off `queue` (basic.get, auto-ack) and decode it."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        taken: list[Drained] = []
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return taken
            taken.append(Drained(properties.message_id, properties.type, json.loads(body)))
    finally:
        connection.close()


def ready(amqp_url: str, queue: str) -> int:
    """Ready messages on `queue` right now (passive declare; no stats lag)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        count: int = connection.channel().queue_declare(queue, passive=True).method.message_count
        return count
    finally:
        connection.close()


# Where each process log started for this test: the artifact logs are appended across runs.
_LOG_START: dict[str, int] = {}


def start(stack: Stack, name: str, replica: int | None = None, **env: Any) -> str:
    """`stack.start`, remembering where the process log starts for this test."""
    label = name if replica is None else f"{name}.{replica}"
    path = stack.logs / f"{label}.log"
    _LOG_START[str(path)] = path.stat().st_size if path.exists() else 0
    return stack.start(name, replica=replica, **env)


def log_lines(stack: Stack, label: str) -> list[dict[str, Any]]:
    """The JSON log lines `label` wrote since `start`."""
    path = stack.logs / f"{label}.log"
    if not path.exists():
        return []
    with path.open("rb") as log:
        log.seek(_LOG_START.get(str(path), 0))
        text = log.read().decode(errors="replace")
    entries: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def outcomes(stack: Stack, label: str, queue: str) -> Counter[str]:
    """Outcomes of the jobs of `queue` the process `label` logged (done, retried, ...)."""
    return Counter(
        entry["outcome"]
        for entry in log_lines(stack, label)
        if entry.get("queue") == queue and "outcome" in entry
    )
