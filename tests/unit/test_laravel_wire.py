"""bridge.wire on payloads built by real Laravel 8.83 (tests/laravel/publish.php: Laravel's
own createPayload plus the driver's `id`) from job classes shaped like the seeds', plain and
encrypted; and on bad input, which must raise a typed error naming the class and property."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import pytest
from bridge.eloquent import ModelRef, model_ref, with_model_ids
from bridge.laravel_crypto import parse_app_key
from bridge.php_serialize import loads
from bridge.wire import (
    CommandSerializeError,
    DecryptError,
    LaravelJob,
    MissingAppKeyError,
    NotJsonError,
    PayloadFieldError,
    attempts_from_headers,
    parse_message,
)

from tests.support.laravel import (
    LaravelMessage,
    eloquent_model,
    eloquent_models,
    laravel_encrypt,
    laravel_messages,
    random_app_key,
    require_php,
)

APP_KEY = random_app_key()
KEYS = [parse_app_key(APP_KEY)]
SMS = "App\\Jobs\\SendSmsJob"
OTP = "App\\Jobs\\SendOtpSmsJob"
BULK = "App\\Jobs\\SendBulkSmsJob"
NOTIFICATION = "App\\Jobs\\SendNotificationJob"
IMAGE = "App\\Jobs\\ProcessImageJob"
USER = "App\\Models\\User"
TEXT = 'Test concurrent n°0 — “Promo” \\ "quoted" 😀'


@pytest.fixture(scope="module")
def built() -> dict[str, LaravelMessage]:
    """One message per case, built by Laravel in one PHP run."""
    require_php()
    cases: dict[str, dict[str, Any]] = {
        "sms": {"class": SMS, "args": [1, "+241 77 75 07 37", TEXT]},
        "sms_for_model": {"class": SMS, "args": [eloquent_model(USER, 42), "+24177750737", "hi"]},
        "sms_no_retry": {
            "class": SMS,
            "args": [1, "+1", "x"],
            "set": {"tries": 5, "backoff": None},
        },
        "sms_int_backoff": {
            "class": SMS,
            "args": [1, "+1", "x"],
            "set": {"backoff": 15, "timeout": None},
        },
        "otp": {
            "class": OTP,
            "args": [eloquent_model(USER, 7, "mysql"), "+24177750737", "code 1234"],
        },
        "bulk": {
            "class": BULK,
            "args": [
                eloquent_models(USER, [1, 2]),
                ["+24177750737", {"phone": "+24177750738", "name": "Ada", "pledge": 100}],
                "Bonjour #name, reste #balance",
                "Relance",
            ],
        },
        "notification": {
            "class": NOTIFICATION,
            "args": [
                {
                    "user_id": 1,
                    "title": "Congé",
                    "message": "Approuvé",
                    "type": "info",
                    "priorite": "haute",
                }
            ],
            "on_queue": "notifications-high",
        },
        "image": {
            "class": IMAGE,
            "args": [
                "attendance/2024/selfie.jpg",
                {"disk": "public", "width": 1200, "quality": 85},
            ],
        },
    }
    messages = laravel_messages(list(cases.values()), queue="sms", app_key=APP_KEY)
    return dict(zip(cases, messages, strict=True))


def parse(message: LaravelMessage, attempts: int = 0, keys: list[bytes] = KEYS) -> LaravelJob:
    return parse_message(message.body, {"laravel": {"attempts": attempts}}, app_keys=keys)


def test_send_sms_job_reads_as_laravel_wrote_it(built: dict[str, LaravelMessage]) -> None:
    message = built["sms"]
    job = parse(message)
    assert job.uuid == uuid.UUID(message.uuid)
    assert job.driver_id == message.id
    assert (job.command_name, job.display_name, job.encrypted) == (SMS, SMS, False)
    assert (job.max_tries, job.backoff, job.timeout, job.retry_until) == (3, (10, 30, 60), 60, None)
    assert (job.max_exceptions, job.fail_on_timeout) == (None, False)
    assert job.arguments() == {"userId": 1, "phone": "+241 77 75 07 37", "message": TEXT}
    assert job.command.properties["phone"].visibility == "protected"
    assert job.command.get("queue") == "sms"
    assert job.chained == []


def test_an_eloquent_model_stands_for_its_key(built: dict[str, LaravelMessage]) -> None:
    job = parse(built["sms_for_model"])
    assert model_ref(job.command.get("userId")) == ModelRef(USER, 42, (), None)
    assert job.arguments()["userId"] == 42


def test_an_encrypted_job_decrypts_with_the_app_key(built: dict[str, LaravelMessage]) -> None:
    message = built["otp"]
    assert not json.loads(message.body)["data"]["command"].startswith("O:")
    job = parse(message)
    assert (job.command_name, job.encrypted, job.max_tries, job.backoff) == (OTP, True, 1, None)
    assert job.arguments() == {"userId": 7, "phone": "+24177750737", "message": "code 1234"}
    assert model_ref(job.command.get("userId")) == ModelRef(USER, 7, (), "mysql")


def test_an_encrypted_job_with_another_key_names_its_class(
    built: dict[str, LaravelMessage],
) -> None:
    with pytest.raises(DecryptError) as raised:
        parse(built["otp"], keys=[parse_app_key(random_app_key())])
    assert raised.value.job_class == OTP
    assert "MAC is invalid" in raised.value.reason and OTP in raised.value.reason


def test_an_encrypted_job_without_a_key_says_so(built: dict[str, LaravelMessage]) -> None:
    with pytest.raises(MissingAppKeyError, match="LARAVEL_APP_KEY is not set") as raised:
        parse(built["otp"], keys=[])
    assert raised.value.job_class == OTP


def test_bulk_job_with_a_model_collection_and_backoff_method(
    built: dict[str, LaravelMessage],
) -> None:
    job = parse(built["bulk"])
    assert (job.max_tries, job.backoff, job.timeout) == (1, (30,), 600)
    assert job.arguments() == {
        "user": [1, 2],
        "recipients": ["+24177750737", {"phone": "+24177750738", "name": "Ada", "pledge": 100}],
        "message": "Bonjour #name, reste #balance",
        "name": "Relance",
    }
    assert model_ref(job.command.get("user")) == ModelRef(USER, [1, 2], (), None)


def test_notification_job_keeps_its_data_and_queue(built: dict[str, LaravelMessage]) -> None:
    job = parse(built["notification"])
    assert job.arguments()["data"] == {
        "user_id": 1,
        "title": "Congé",
        "message": "Approuvé",
        "type": "info",
        "priorite": "haute",
    }
    assert job.command.properties["data"].visibility == "protected"
    assert job.command.get("queue") == "notifications-high"
    assert (job.max_tries, job.backoff, job.timeout) == (3, (10, 30, 60), None)


def test_image_job_with_private_properties_and_retry_until(
    built: dict[str, LaravelMessage],
) -> None:
    job = parse(built["image"])
    assert job.arguments() == {
        "imagePath": "attendance/2024/selfie.jpg",
        "options": {"disk": "public", "width": 1200, "quality": 85},
    }
    assert job.command.properties["imagePath"].visibility == "private"
    assert job.command.properties["imagePath"].declaring_class == IMAGE
    assert (job.max_tries, job.max_exceptions, job.fail_on_timeout, job.timeout) == (
        3,
        2,
        True,
        120,
    )
    assert job.backoff is None and job.retry_until is not None
    assert abs(job.retry_until - (time.time() + 3600)) < 120  # retryUntil(): now + 1 hour


def test_worker_settings_set_on_the_job(built: dict[str, LaravelMessage]) -> None:
    no_retry = parse(built["sms_no_retry"])
    assert (no_retry.max_tries, no_retry.backoff) == (5, None)
    assert no_retry.backoff_for(1) is None
    single = parse(built["sms_int_backoff"])
    assert (single.backoff, single.timeout) == ((15,), None)


def test_backoff_per_attempt_follows_laravel(built: dict[str, LaravelMessage]) -> None:
    job = parse(built["sms"])
    assert [job.backoff_for(attempt) for attempt in (0, 1, 2, 3, 4, 9)] == [10, 10, 30, 60, 60, 60]


def test_attempts_come_from_the_laravel_header(built: dict[str, LaravelMessage]) -> None:
    job = parse(built["sms"], attempts=2)
    assert (job.laravel_attempts, job.attempt) == (2, 3)
    assert parse_message(built["sms"].body, None).attempt == 1


@pytest.mark.parametrize(
    ("headers", "attempts"),
    [
        ({"laravel": {"attempts": 4}}, 4),
        ({"laravel": '{"attempts": 2}'}, 2),
        ({"laravel": b'{"attempts": 1}'}, 1),
        ({"laravel": {"attempts": "3"}}, 3),
        ({"laravel": {"attempts": True}}, 0),
        ({"laravel": "garbage"}, 0),
        ({"laravel": {"attempts": -5}}, 0),
        ({"other": 1}, 0),
        (None, 0),
    ],
)
def test_attempts_header_forms(headers: dict[str, Any] | None, attempts: int) -> None:
    assert attempts_from_headers(headers) == attempts


def with_fields(message: LaravelMessage, **fields: Any) -> bytes:
    document = json.loads(message.body)
    for path, value in fields.items():
        target = document
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe", b'{"uuid": '])
def test_a_body_that_is_not_json(body: bytes) -> None:
    with pytest.raises(NotJsonError, match="not JSON"):
        parse_message(body)


def test_json_that_is_not_an_object() -> None:
    with pytest.raises(NotJsonError, match="not an object"):
        parse_message(b'["App\\\\Jobs\\\\SendSmsJob"]')


def test_a_string_job_has_no_command(built: dict[str, LaravelMessage]) -> None:
    body = with_fields(built["sms"], job="App\\Handlers\\Legacy@handle", data={"to": "+1"})
    with pytest.raises(PayloadFieldError, match=r"no data\.command") as raised:
        parse_message(body)
    assert raised.value.job_class is None


def test_missing_command_names_the_class(built: dict[str, LaravelMessage]) -> None:
    with pytest.raises(PayloadFieldError, match=r"no data\.command") as raised:
        parse_message(with_fields(built["sms"], data__command=...))
    assert raised.value.job_class == SMS


def test_a_truncated_command_names_the_class_and_property(built: dict[str, LaravelMessage]) -> None:
    command = json.loads(built["sms"].body)["data"]["command"]
    cut = command.index("+241") + 4  # inside the phone number
    with pytest.raises(CommandSerializeError) as raised:
        parse_message(with_fields(built["sms"], data__command=command[:cut]))
    assert (raised.value.job_class, raised.value.property_name) == (SMS, "phone")
    assert "runs past the end" in raised.value.reason
    assert raised.value.reason.startswith(f"{SMS}, property 'phone': ")


def test_a_command_that_is_neither_serialized_nor_encrypted(
    built: dict[str, LaravelMessage],
) -> None:
    with pytest.raises(CommandSerializeError, match="neither serialize"):
        parse_message(with_fields(built["sms"], data__command="hello"))


def test_a_command_of_another_class_than_announced(built: dict[str, LaravelMessage]) -> None:
    with pytest.raises(CommandSerializeError, match=re.escape(f"says {OTP} but the command")):
        parse_message(with_fields(built["sms"], data__commandName=OTP))


def test_an_encrypted_command_that_is_not_an_object(built: dict[str, LaravelMessage]) -> None:
    (encrypted_array,) = laravel_encrypt([("a:0:{}", True)], app_key=APP_KEY)
    with pytest.raises(CommandSerializeError, match="holds a list, not a job object"):
        parse_message(with_fields(built["otp"], data__command=encrypted_array), app_keys=KEYS)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("uuid", "not-a-uuid", "uuid"),
        ("uuid", ..., "uuid"),
        ("maxTries", "three", "maxTries"),
        ("retryUntil", [1], "retryUntil"),
        ("data__commandName", 7, "data.commandName"),
        ("data__command", 12, "data.command"),
    ],
)
def test_fields_of_the_wrong_type_are_named(
    built: dict[str, LaravelMessage], field: str, value: Any, named: str
) -> None:
    with pytest.raises(PayloadFieldError) as raised:
        parse_message(with_fields(built["sms"], **{field: value}))
    assert named in raised.value.reason


def test_a_command_for_another_handler_is_refused(built: dict[str, LaravelMessage]) -> None:
    with pytest.raises(PayloadFieldError, match="is not Illuminate") as raised:
        parse_message(with_fields(built["sms"], job="App\\Handlers\\Legacy@handle"))
    assert raised.value.job_class == SMS


def test_a_backoff_that_is_not_seconds(built: dict[str, LaravelMessage]) -> None:
    with pytest.raises(PayloadFieldError, match="backoff 'ten' is not seconds") as raised:
        parse_message(with_fields(built["sms"], backoff="ten"))
    assert raised.value.job_class == SMS


def test_an_altered_encrypted_command_fails_its_mac(built: dict[str, LaravelMessage]) -> None:
    command = json.loads(built["otp"].body)["data"]["command"]
    envelope = json.loads(base64.b64decode(command))
    envelope["value"] = base64.b64encode(b"\0" * 32).decode()
    altered = base64.b64encode(json.dumps(envelope).encode()).decode()
    with pytest.raises(DecryptError, match="MAC is invalid"):
        parse_message(with_fields(built["otp"], data__command=altered), app_keys=KEYS)


def test_models_are_replaced_at_any_depth_and_cycles_keep_their_shape() -> None:
    identifier = (
        b'O:45:"Illuminate\\Contracts\\Database\\ModelIdentifier":4:{s:5:"class";'
        b's:15:"App\\Models\\User";s:2:"id";i:9;s:9:"relations";a:1:{i:0;s:5:"roles";}'
        b's:10:"connection";N;}'
    )
    # As PHP writes `$o = new stdClass; $o->self = $o; $o->rows = [['user' => $identifier]];`
    data = (
        b'O:8:"stdClass":2:{s:4:"self";r:1;s:4:"rows";a:1:{i:0;a:1:{s:4:"user";'
        + identifier
        + b"}}}"
    )
    found = loads(data)
    assert model_ref(found.get("rows")[0]["user"]) == ModelRef(USER, 9, ("roles",), None)
    resolved = with_model_ids(found)
    assert resolved.get("rows") == [{"user": 9}]
    assert resolved.get("self") is resolved
    assert model_ref(found.get("rows")[0]["user"]) is not None  # the original is unchanged
