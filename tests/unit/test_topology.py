"""The topology data and the checked-in RabbitMQ definitions generated from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common import topology
from common.topology import RetryTier, format_delay

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_definitions_match_the_topology_data() -> None:
    checked_in = (ROOT / "infra" / "rabbitmq" / "definitions.json").read_text()
    assert checked_in == topology.render_definitions(), "run `make definitions` and commit"


def test_every_work_queue_is_bound_to_its_domain_exchange_by_its_name() -> None:
    assert topology.registered_domains(), "no domain is installed (relay.topology entry points)"
    for domain in topology.registered_domains():
        for queue in domain.queues:
            assert queue.exchange == domain.exchange.name
            assert queue.routing_key == queue.name
            assert queue.name.startswith(domain.exchange.name + ".")


def test_tier_dead_letters_back_to_its_work_queue() -> None:
    tier = RetryTier("sms.send", 10)
    arguments = tier.arguments("quorum")
    assert tier.name == "sms.send.retry.10s"
    assert arguments["x-message-ttl"] == 10_000
    assert arguments["x-dead-letter-exchange"] == ""
    assert arguments["x-dead-letter-routing-key"] == "sms.send"


def test_quorum_tiers_dead_letter_at_least_once() -> None:
    # Quorum queues dead-letter at most once by default: a job leaving its tier while the
    # tier's leader fails over could be dropped. At-least-once needs reject-publish.
    arguments = RetryTier("sms.send", 10).arguments("quorum", quorum_size=3)
    assert arguments["x-dead-letter-strategy"] == "at-least-once"
    assert arguments["x-overflow"] == "reject-publish"
    assert arguments["x-quorum-initial-group-size"] == 3
    classic = RetryTier("sms.send", 10).arguments("classic")
    assert "x-dead-letter-strategy" not in classic and "x-overflow" not in classic


def test_only_tiers_dead_letter() -> None:
    # Work and parked queues keep no dead-letter arguments: a dead job goes to the
    # failed-job store, never through a dead-letter exchange.
    for queue in topology.all_queues():
        for arguments in (queue.arguments("quorum"), queue.parked.arguments("quorum")):
            assert not any(key.startswith("x-dead-letter") for key in arguments)


def test_delay_names_are_stable_for_fractions() -> None:
    assert format_delay(0.2) == "0.2s"
    assert format_delay(10.0) == "10s"
    assert format_delay(1.25) == "1.25s"


def test_every_work_queue_has_a_parked_queue_in_the_definitions() -> None:
    rendered = topology.render_definitions()
    for queue in topology.all_queues():
        assert queue.parked.name == f"{queue.name}.parked"
        assert f'"name": "{queue.name}.parked"' in rendered


def test_checked_in_queue_glossary_matches_the_topology_data() -> None:
    from common.glossary import render_glossary

    checked_in = (ROOT / "docs" / "queues.md").read_text()
    assert checked_in == render_glossary(), "run `make definitions` and commit docs/queues.md"


def test_every_work_queue_says_what_its_jobs_do() -> None:
    undescribed = [q.name for q in topology.all_queues() if not q.description.strip()]
    assert undescribed == [], "give each job kind a line in its domain's topology.py"


def test_a_queue_added_without_regenerating_the_glossary_is_caught(monkeypatch: Any) -> None:
    from common import glossary

    checked_in = (ROOT / "docs" / "queues.md").read_text()
    known = topology.registered_domains()
    extra = topology.domain("extra", ping="a new job kind")
    monkeypatch.setattr(glossary, "registered_domains", lambda: (*known, extra))
    regenerated = glossary.render_glossary()
    assert "`extra.ping`" in regenerated and regenerated != checked_in
