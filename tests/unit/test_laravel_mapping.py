"""The bridge's pure rules: which adapter takes a Laravel class (out of the box and through
LARAVEL_JOB_MAP), which properties its fields are read from, what Laravel policy becomes
in Relay, how a Laravel value becomes a field, and the domains' own Laravel rules
(notification priority, campaign rows, thumbnail box)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from bridge.handover import Peek, policy_of
from bridge.job_map import JobMap, JobMapError
from bridge.php_values import PhpObject
from bridge.wire import LaravelJob
from common.laravel import LaravelCall, LaravelFiles, LaravelInputError, registered_adapters
from notifications.contracts import Priority
from notifications.laravel import priority_of, thumbnail_box
from sms.laravel import recipient_rows

NAMESPACE = ["App\\Jobs\\"]
SMS = "App\\Jobs\\SendSmsJob"


def job_map(tmp_path: Path | None = None, text: str | None = None, **kwargs: Any) -> JobMap:
    path = ""
    if text is not None:
        assert tmp_path is not None
        file = tmp_path / "jobs.toml"
        file.write_text(text)
        path = str(file)
    return JobMap.build(registered_adapters(), kwargs.get("namespaces", NAMESPACE), path)


def test_the_seed_classes_are_mapped_out_of_the_box_under_each_namespace() -> None:
    mapped = job_map(namespaces=["App\\Jobs\\", "Modules\\Sms\\Jobs\\"])
    kinds = {name: m.adapter.kind for name, m in mapped.mappings.items() if m is not None}
    assert kinds["App\\Jobs\\SendSmsJob"] == kinds["Modules\\Sms\\Jobs\\SendSmsJob"] == "sms"
    assert kinds["App\\Jobs\\SendBulkSmsJob"] == "campaign"
    assert kinds["App\\Jobs\\SendNotificationJob"] == "notification"
    assert kinds["App\\Jobs\\ProcessImageJob"] == "image"
    assert mapped.find("\\App\\Jobs\\SendSmsJob") is not None  # a leading backslash
    assert mapped.find("App\\Jobs\\GenerateReportJob") is None


def test_the_contract_aliases_are_the_default_property_names() -> None:
    sms = job_map().find(SMS)
    assert sms is not None
    assert sms.fields["user"] == ("userId", "user_id", "user")
    assert sms.fields["phone"] == ("phone", "to", "phoneNumber", "recipient")
    assert sms.fields["message"] == ("message", "body", "text", "content")
    bulk = job_map().find("App\\Jobs\\SendBulkSmsJob")
    assert bulk is not None and bulk.fields["recipients"] == ("recipients", "phones", "numbers")


def test_a_map_file_adds_classes_overrides_names_and_leaves_classes_to_php(tmp_path: Path) -> None:
    mapped = job_map(
        tmp_path,
        """
        [jobs.SendOtpSmsJob]
        kind = "sms"
        properties = { phone = "mobile", user = ["customerId", "userId"] }

        [jobs."Legacy\\\\Jobs\\\\Notify"]
        kind = "notification"

        [jobs.SendBulkSmsJob]
        kind = "unmapped"
        """,
    )
    otp = mapped.find("App\\Jobs\\SendOtpSmsJob")
    assert otp is not None and otp.adapter.kind == "sms"
    assert otp.fields["phone"] == ("mobile",)
    assert otp.fields["user"] == ("customerId", "userId")
    assert otp.fields["message"] == ("message", "body", "text", "content")  # kept
    legacy = mapped.find("Legacy\\Jobs\\Notify")
    assert legacy is not None and legacy.adapter.kind == "notification"
    assert mapped.find("App\\Jobs\\SendBulkSmsJob") is None
    assert "App\\Jobs\\SendBulkSmsJob" in mapped.mappings  # known, and left to PHP


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '[jobs.X]\nkind = "fax"',
            "kind 'fax'; one of campaign, image, notification, sms, unmapped",
        ),
        ('[jobs.X]\nkind = "sms"\nproperties = { colour = "red" }', "sms has no field 'colour'"),
        ('[jobs.X]\nkind = "sms"\nproperties = { phone = [] }', "phone: no property name"),
        ("[jobs.X]\nkind = ", "not TOML"),
        ('[classes.X]\nkind = "sms"', "classes: Extra inputs are not permitted"),
        ("[jobs.X]\nproperties = {}", "jobs.X.kind: Field required"),
    ],
)
def test_a_map_file_that_cannot_be_used_stops_the_bridge_saying_why(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(JobMapError) as refused:
        job_map(tmp_path, text)
    assert says in str(refused.value) and "LARAVEL_JOB_MAP" in str(refused.value)


def test_a_missing_map_file_is_named() -> None:
    with pytest.raises(JobMapError, match="cannot be read"):
        JobMap.build(registered_adapters(), NAMESPACE, "/nonexistent/jobs.toml")


def test_fields_are_read_from_the_first_alias_present_and_from_inside_arrays() -> None:
    notification = job_map().find("App\\Jobs\\SendNotificationJob")
    assert notification is not None
    found: dict[str, str] = {}
    values = notification.resolve(
        {"data": {"user_id": 7, "title": "T", "message": "M", "priority": "haute", "type": None}},
        found,
    )
    assert values == {"user": 7, "title": "T", "message": "M", "priority": "haute"}
    assert found["user"] == "data.user_id" and found["priority"] == "data.priority"
    options = PhpObject("App\\Support\\Options")
    options.add_serialized_property("width", 640)
    image = job_map().find("App\\Jobs\\ProcessImageJob")
    assert image is not None
    assert image.resolve({"imagePath": "a.jpg", "options": options}, {})["width"] == 640


def test_a_missing_field_names_every_property_it_is_read_from() -> None:
    sms = job_map().find(SMS)
    assert sms is not None
    assert sms.property_of("phone", {}) == ("phone", ("to", "phoneNumber", "recipient"))
    assert sms.property_of("phone", {"phone": "to"}) == ("to", ())


def test_a_nul_anywhere_in_a_field_is_refused_and_a_self_holding_array_does_not_hang() -> None:
    sms = job_map().find(SMS)
    assert sms is not None
    with pytest.raises(LaravelInputError) as refused:
        sms.resolve({"userId": 1, "phone": "+1", "message": ["ok", {"x": "a\0b"}]}, {})
    assert refused.value.field == "message"
    looping: list[Any] = ["a"]
    looping.append(looping)
    assert sms.resolve({"message": looping}, {})["message"] is looping


def _job(**overrides: Any) -> LaravelJob:
    values: dict[str, Any] = {
        "uuid": uuid.uuid4(),
        "driver_id": None,
        "display_name": SMS,
        "command_name": SMS,
        "command": PhpObject(SMS),
        "encrypted": False,
        "max_tries": None,
        "max_exceptions": None,
        "fail_on_timeout": False,
        "backoff": None,
        "timeout": None,
        "retry_until": None,
        "laravel_attempts": 0,
    }
    return LaravelJob(**{**values, **overrides})


def test_laravel_tries_backoff_timeout_and_retry_until_become_the_runtime_policy_headers() -> None:
    headers = policy_of(_job(max_tries=3, backoff=(10, 30, 60), timeout=60, retry_until=1900000000))
    assert headers == {
        "x-max-attempts": 3,
        "x-retry-delays": "10,30,60",
        "x-timeout": "60",
        "x-retry-until": 1900000000,
    }
    # $tries = 0 is Laravel's "unlimited": the queue's JOB_MAX_ATTEMPTS stays.
    assert policy_of(_job(max_tries=0)) == {}
    # A backoff of 0 waits in the shortest tier instead of being dropped.
    assert policy_of(_job(backoff=(0, 5)))["x-retry-delays"] == "0.001,5"


@pytest.mark.parametrize(
    ("value", "queue", "expected"),
    [
        ("haute", "notifications", Priority.high),
        ("HIGH", "notifications", Priority.high),
        (" urgente ", "default", Priority.high),
        ("normale", "notifications", Priority.normal),
        ("critical", "notifications", Priority.normal),
        (None, "notifications-high", Priority.high),
        ("normale", "notifications-high", Priority.high),
        (3, "default", Priority.normal),
    ],
)
def test_notification_priority_rules(value: Any, queue: str, expected: Priority) -> None:
    assert priority_of(value, queue) is expected


def test_campaign_rows_from_laravel_arrays() -> None:
    rows = recipient_rows(
        ["+24177000001", 24177000002, {"to": "077000003", "name": "Jean"}, {"phone": "x"}, None]
    )
    assert rows == [
        {"phone": "+24177000001"},
        {"phone": 24177000002},
        {"phone": "077000003", "name": "Jean"},
        {"phone": "x"},
        None,  # kept: rejected on its own, as a bad row of an HTTP request is
    ]
    assert recipient_rows({"a": "+1", "b": "+2"}) == [{"phone": "+1"}, {"phone": "+2"}]
    with pytest.raises(LaravelInputError, match="must be an array"):
        recipient_rows("+24177000001")


def test_thumbnail_box_as_laravel_apps_write_it() -> None:
    assert thumbnail_box({"width": 200, "height": 100}) == {"thumb_width": 200, "thumb_height": 100}
    assert thumbnail_box([64, 32]) == {"thumb_width": 64, "thumb_height": 32}
    assert thumbnail_box(150) == {"thumb_width": 150, "thumb_height": 150}
    assert thumbnail_box(False) == {} and thumbnail_box(None) == {}


def _call(**values: Any) -> LaravelCall:
    return LaravelCall(job_id=uuid.uuid4(), job_class=SMS, laravel_queue="sms", values=values)


def test_a_laravel_value_becomes_a_field_as_php_would_print_it() -> None:
    call = _call(user=1, phone=24177750737, amount=2.0, flag=True, list=["a"], raw=b"\xff")
    assert call.user_id() == "1"
    assert call.text("phone") == "24177750737" and call.text("amount") == "2"
    for name, says in (("flag", "not bool"), ("list", "not array"), ("raw", "not UTF-8")):
        with pytest.raises(LaravelInputError, match=says):
            call.text(name)
    with pytest.raises(LaravelInputError, match="is missing"):
        call.text("message")
    with pytest.raises(LaravelInputError, match="user id"):
        _call(user=True).user_id()


async def test_a_job_file_is_read_under_the_storage_directory_only(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 100)
    (tmp_path / "secret").write_bytes(b"do not read")
    os.symlink(tmp_path / "secret", root / "photos" / "link.jpg")
    files = LaravelFiles(root)

    opened = await files.open("path", "photos/a.jpg", max_bytes=1000)
    assert (opened.size, opened.head[:3], opened.source.read(3)) == (
        103,
        b"\xff\xd8\xff",
        b"\xff\xd8\xff",
    )
    opened.close()
    absolute = await files.open("path", str(root / "photos" / "a.jpg"), max_bytes=1000)
    absolute.close()
    refusals = {
        "../secret": "leads outside",
        str(tmp_path / "secret"): "leads outside",
        "photos/link.jpg": "leads outside",
        "photos/missing.jpg": "no such file",
        "photos": "not a regular file",
        "photos/a\0.jpg": "not a file path",
    }
    for path, says in refusals.items():
        with pytest.raises(LaravelInputError, match=says):
            await files.open("path", path, max_bytes=1000)
    with pytest.raises(LaravelInputError, match="at most 10"):
        await files.open("path", "photos/a.jpg", max_bytes=10)
    with pytest.raises(LaravelInputError, match="LARAVEL_STORAGE_DIR is not set"):
        await LaravelFiles(None).open("path", "photos/a.jpg", max_bytes=1000)


def test_a_peek_tells_class_and_uuid_of_whatever_arrives() -> None:
    body = b'{"uuid": "u-1", "data": {"commandName": "App\\\\Jobs\\\\SendSmsJob"}}'
    assert Peek.of(body) == Peek("App\\Jobs\\SendSmsJob", "u-1")
    assert Peek.of(b"\xff not json") == Peek(None, None)
    assert Peek.of(b"[1, 2]") == Peek(None, None)
    assert Peek.of(b'{"data": {"commandName": 5}}') == Peek(None, None)
