"""Laravel messages the bridge cannot run: each ends in the failed-job store under
`laravel.<queue>` with its exact bytes and a reason naming the class and the property,
the queue is empty afterwards and nothing loops; `relay failed retry` hands one over
again once the key is fixed. Unmapped classes go to LARAVEL_UNMAPPED_QUEUE unchanged."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from tests.fakes.laravel_support import (
    OTP_JOB,
    SMS_JOB,
    bridge_outcomes,
    dispatch,
    failed_body,
    failed_jobs,
    fresh_logs,
    publish_raw,
    start_bridge,
    wait_settled,
)
from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import start_sms, wait_for_status
from tests.support import Stack, eventually
from tests.support.laravel import random_app_key, require_php
from tests.support.stack import ROOT

pytestmark = pytest.mark.e2e

KEYS = {"API_KEYS": "user-key=1,other-key=user-2"}
OTP_MAP = '[jobs.SendOtpSmsJob]\nkind = "sms"\n'


@pytest.fixture(autouse=True)
def _php(stack: Stack) -> None:
    require_php()
    fresh_logs(stack)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def otp_map(tmp_path: Path) -> str:
    path = tmp_path / "jobs.toml"
    path.write_text(OTP_MAP)
    return str(path)


def _tampered(body: bytes, **changes: Any) -> bytes:
    """A body Laravel built, with some of its fields replaced (None: removed)."""
    document = json.loads(body)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        target = document
        for part in path:
            target = target[part]
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return json.dumps(document).encode()


def test_every_kind_of_bad_input_ends_in_the_failed_store_with_its_exact_bytes(
    stack: Stack, fake: FakeProvider, otp_map: str
) -> None:
    settings = start_sms(stack, fake, **KEYS)
    right_key, wrong_key = random_app_key(), random_app_key()
    [good, no_phone, phone_array, bad_number] = dispatch(
        stack,
        "sms",
        [
            {"class": SMS_JOB, "args": [1, "+24177750737", "fine"]},
            {"class": SMS_JOB, "args": [1, None, "no phone"]},
            {"class": SMS_JOB, "args": [1, ["+24177750737"], "phone is an array"]},
            {"class": SMS_JOB, "args": [1, "not a number", "bad number"]},
        ],
    )
    [other_key] = dispatch(
        stack, "sms", [{"class": OTP_JOB, "args": [1, "+24177750737", "code 1"]}], app_key=wrong_key
    )
    command = json.loads(good.body)["data"]["command"]
    bodies = {
        "not_json": b"\xffnot json at all",
        "no_command": _tampered(good.body, data__command=None),
        "not_the_job_class": _tampered(good.body, data__command='O:8:"stdClass":0:{}'),
        "truncated": _tampered(good.body, data__command=command[: len(command) // 2]),
        "unmapped": _tampered(good.body, data__commandName="App\\Jobs\\GenerateReportJob"),
    }
    publish_raw(stack, "sms", list(bodies.values()))
    start_bridge(stack, "sms", LARAVEL_APP_KEY=right_key, LARAVEL_JOB_MAP=otp_map, **settings)

    expected = [no_phone, phone_array, bad_number, other_key]
    failed = eventually(
        lambda: len(rows := failed_jobs(stack, "laravel.sms")) == 9 and rows, timeout=60
    )
    wait_settled(stack, "sms")
    stored = {failed_body(stack, row["id"]): row for row in failed}
    assert set(stored) == {m.body for m in expected} | set(bodies.values())  # exact bytes
    reasons = {body: row["error"] for body, row in stored.items()}
    assert reasons[no_phone.body] == (
        f"{SMS_JOB}, property 'phone': is missing (nor is 'to' or 'phoneNumber' or 'recipient')"
    )
    assert reasons[phone_array.body] == f"{SMS_JOB}, property 'phone': must be text, not array"
    assert reasons[bad_number.body].startswith(f"{SMS_JOB}, property 'phone': not a phone number")
    assert reasons[other_key.body].startswith(f"{OTP_JOB}: ")  # the MAC does not match
    assert reasons[bodies["not_json"]].startswith("the body is not JSON")
    assert reasons[bodies["no_command"]].startswith(f"{SMS_JOB}: no data.command")
    assert reasons[bodies["not_the_job_class"]] == (
        f"{SMS_JOB}: data.commandName says {SMS_JOB} but the command is a stdClass"
    )
    truncated = reasons[bodies["truncated"]]
    assert truncated.startswith(f"{SMS_JOB}") and "bad PHP serialize data at byte" in truncated
    assert reasons[bodies["unmapped"]].startswith("App\\Jobs\\GenerateReportJob: no Relay job")
    assert {row["queue"] for row in failed} == {"laravel.sms"}
    assert list(fake.deliveries) == [good.uuid]  # the good one ran, none of the bad
    # Nothing loops: each message was settled once, and stays settled.
    outcomes = [line["outcome"] for line in bridge_outcomes(stack)]
    assert sorted(outcomes) == ["accepted"] + ["failed"] * 9
    with stack.client() as client:
        assert client.get(f"/v1/sms/{no_phone.uuid}").status_code == 404


def test_a_job_encrypted_with_another_key_runs_after_the_key_is_fixed_and_relay_failed_retry(
    stack: Stack, fake: FakeProvider, otp_map: str
) -> None:
    settings = start_sms(stack, fake, **KEYS)
    app_key = random_app_key()
    start_bridge(
        stack, "sms", LARAVEL_APP_KEY=random_app_key(), LARAVEL_JOB_MAP=otp_map, **settings
    )
    [otp] = dispatch(
        stack,
        "sms",
        [{"class": OTP_JOB, "args": [1, "+24177750737", "code 4321"]}],
        app_key=app_key,
    )
    [dead] = eventually(lambda: failed_jobs(stack, "laravel.sms"), timeout=60)
    assert dead["type"] == OTP_JOB and "code 4321" not in json.dumps(dead)  # still encrypted
    assert stack.terminate("bridge") == 0

    # The operator sets the app's real APP_KEY (the old one stays listed while it rotates).
    start_bridge(
        stack,
        "sms",
        LARAVEL_APP_KEY=f"{app_key},{random_app_key()}",
        LARAVEL_JOB_MAP=otp_map,
        **settings,
    )
    retried = subprocess.run(
        [str(ROOT / ".venv/bin/relay"), "failed", "retry", dead["id"]],
        env={**stack.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert retried.returncode == 0, retried.stderr
    with stack.client() as client:
        sent = wait_for_status(client, otp.uuid or "", "sent")
    assert sent["message"] == "code 4321"
    assert fake.deliveries[otp.uuid or ""].body == "code 4321"
    assert failed_jobs(stack, "laravel.sms") == []
    wait_settled(stack, "laravel.sms")


def test_unmapped_classes_are_republished_unchanged_for_the_php_workers(
    stack: Stack, fake: FakeProvider, tmp_path: Path
) -> None:
    settings = start_sms(stack, fake, **KEYS)
    job_map = tmp_path / "jobs.toml"
    job_map.write_text('[jobs.SendSmsJob]\nkind = "unmapped"\n')
    start_bridge(
        stack, "sms", LARAVEL_UNMAPPED_QUEUE="sms-php", LARAVEL_JOB_MAP=str(job_map), **settings
    )
    published = dispatch(
        stack,
        "sms",
        [{"class": SMS_JOB, "args": [1, "+24177750737", "stays in PHP"], "attempts": 2}],
    )
    [message] = published
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["RABBITMQ_URL"]))
    try:
        channel = connection.channel()

        def forwarded() -> tuple[Any, Any, bytes]:
            method, properties, body = channel.basic_get("sms-php", auto_ack=True)
            assert method is not None, "nothing on sms-php yet"
            return method, properties, body

        _, properties, body = eventually(forwarded, timeout=60)
        declared = channel.queue_declare("sms-php", passive=True)
    finally:
        connection.close()
    assert body == message.body
    assert properties.correlation_id == message.id
    assert properties.content_type == "application/json" and properties.delivery_mode == 2
    assert properties.headers == {"laravel": {"attempts": 2}}
    assert declared.method.message_count == 0
    wait_settled(stack, "sms")
    assert fake.deliveries == {} and failed_jobs(stack, "laravel.sms") == []
    assert [line["outcome"] for line in bridge_outcomes(stack)] == ["forwarded"]
