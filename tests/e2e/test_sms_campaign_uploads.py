"""Campaigns from a file: text/csv and multipart uploads, streamed and stored in batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.sms_provider import FakeProvider
from tests.fakes.sms_support import campaign_progress, numbers, start_sms
from tests.support import Stack, eventually

pytestmark = pytest.mark.e2e

UNLIMITED = {"SMS_CAMPAIGNS_PER_HOUR": 0, "SMS_BULK_PER_HOUR": 0, "SMS_BULK_CHUNK_DELAY": 0}
TEMPLATE = "Bonjour #name, reste #balance"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def _post_csv(client: httpx.Client, text: str | bytes, **params: str) -> httpx.Response:
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        "/v1/campaigns",
        params={"name": "upload", "message": TEMPLATE, **params},
        content=body,
        headers={"Content-Type": "text/csv"},
        timeout=120,
    )


def _multipart(parts: list[tuple[str, str, str | None]], boundary: str = "relay-b0undary") -> bytes:
    """A multipart/form-data body with its parts in exactly this order."""
    out = []
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        out.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n")
    out.append(f"--{boundary}--\r\n")
    return "".join(out).encode()


def _settled(client: httpx.Client, campaign_id: str, timeout: float = 60) -> dict[str, Any]:
    return eventually(
        lambda: (p := campaign_progress(client, campaign_id))["pending"] == 0 and p,
        timeout=timeout,
        interval=0.2,
    )


def test_csv_upload_sends_good_rows_and_names_bad_rows_by_their_line(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake, **UNLIMITED)
    good = numbers(3)
    # A byte-order mark, CRLF line ends, a quoted comma, an escaped quote, an ignored
    # column, a blank line, and three bad rows (lines 4, 6 and 7).
    text = (
        "\ufeffPhone,Name,Balance,notes\r\n"
        f'{good[0]},"Doe, Jane",120,vip\r\n'
        f'{good[1]},"Ali ""Baba""",5,\r\n'
        "12,Short,1,\r\n"
        "\r\n"
        ",No phone,1,\r\n"
        f"{good[0]},Twice,1,\r\n"
        f"{good[2]},Zoe,0,x\r\n"
    )
    with stack.client() as client:
        answer = _post_csv(client, text, sender="Relay")
        assert answer.status_code == 202, answer.text
        created = answer.json()
        assert created["total"] == 3 and created["status"] == "queued"
        rejected = {r["row"]: r for r in created["rejected"]}
        assert sorted(rejected) == [4, 6, 7], created["rejected"]
        assert rejected[4]["phone"] == "12"
        assert "phone" in rejected[6]["error"]
        assert "duplicate" in rejected[7]["error"]
        final = _settled(client, created["id"])
    assert final["sent"] == 3
    bodies = {d.to: (d.body, d.sender) for d in fake.deliveries.values()}
    assert bodies[good[0]] == ("Bonjour Doe, Jane, reste 120", "Relay")
    assert bodies[good[1]] == ('Bonjour Ali "Baba", reste 5', "Relay")
    assert bodies[good[2]] == ("Bonjour Zoe, reste 0", "Relay")


def test_multipart_upload_reads_the_file_whatever_the_order_of_its_fields(
    stack: Stack, fake: FakeProvider
) -> None:
    start_sms(stack, fake, **UNLIMITED)
    phones = numbers(4)
    csv_text = "phone,name\n" + "".join(f"{p},C{i}\n" for i, p in enumerate(phones[:2]))
    later = "phone,name\n" + "".join(f"{p},D{i}\n" for i, p in enumerate(phones[2:]))
    with stack.client() as client:
        # The usual order (what httpx and browsers send): fields, then the file.
        first = client.post(
            "/v1/campaigns",
            data={"name": "form", "message": "Hi #name", "sender": "Shop"},
            files={"file": ("contacts.csv", csv_text.encode(), "text/csv")},
        )
        assert first.status_code == 202, first.text
        assert first.json()["total"] == 2 and first.json()["name"] == "form"
        # The file first (curl -F file=@x.csv -F name=...): it waits until the template came.
        body = _multipart(
            [("file", later, "later.csv"), ("name", "file first", None),
             ("message", "Yo #name", None), ("sender", "Late", None)]
        )  # fmt: skip
        second = client.post(
            "/v1/campaigns",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=relay-b0undary"},
        )
        assert second.status_code == 202, second.text
        assert second.json()["total"] == 2 and second.json()["name"] == "file first"
        _settled(client, first.json()["id"])
        _settled(client, second.json()["id"])
        missing = client.post(
            "/v1/campaigns", data={"name": "x", "message": "y"}, files={"other": ("a", b"b")}
        )
        assert missing.status_code == 422 and "file" in missing.json()["detail"]
    bodies = {d.to: (d.body, d.sender) for d in fake.deliveries.values()}
    assert bodies[phones[0]] == ("Hi C0", "Shop")
    assert bodies[phones[3]] == ("Yo D1", "Late")


def test_unreadable_uploads_are_4xx_naming_what_to_fix(stack: Stack) -> None:
    start_sms(stack, None, workers=0, **UNLIMITED)
    with stack.client() as client:
        no_phone = _post_csv(client, "name,balance\nA,1\n")
        assert no_phone.status_code == 422 and "phone" in no_phone.json()["detail"]
        not_utf8 = _post_csv(client, b"phone\n\xff\xfe\x00bad\n")
        assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.json()["detail"]
        empty = _post_csv(client, b"")
        assert empty.status_code == 422
        all_bad = _post_csv(client, "phone\n12\n")
        assert all_bad.status_code == 422 and all_bad.json()["rejected"][0]["row"] == 2
        no_name = client.post(
            "/v1/campaigns",
            params={"message": "x"},
            content=b"phone\n+24177000001\n",
            headers={"Content-Type": "text/csv"},
        )
        assert no_name.status_code == 422 and no_name.json()["detail"].startswith("name")
        xml = client.post(
            "/v1/campaigns", content=b"<x/>", headers={"Content-Type": "application/xml"}
        )
        assert xml.status_code == 415
        bad_json = client.post(
            "/v1/campaigns", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert bad_json.status_code == 422


def test_more_recipients_than_the_limit_is_413_naming_the_limit(stack: Stack) -> None:
    start_sms(stack, None, workers=0, SMS_CAMPAIGN_MAX_RECIPIENTS=5, **UNLIMITED)
    rows = "phone\n" + "".join(f"{p}\n" for p in numbers(6))
    with stack.client() as client:
        assert (
            _post_csv(client, "phone\n" + "".join(f"{p}\n" for p in numbers(5))).status_code == 202
        )
        csv_answer = _post_csv(client, rows)
        assert csv_answer.status_code == 413 and "at most 5" in csv_answer.json()["detail"]
        form = client.post(
            "/v1/campaigns",
            data={"name": "n", "message": "m"},
            files={"file": ("a.csv", rows.encode(), "text/csv")},
        )
        assert form.status_code == 413 and "5" in form.json()["detail"]
        recipients = [{"phone": p} for p in numbers(6)]
        json_answer = client.post(
            "/v1/campaigns", json={"name": "n", "message": "m", "recipients": recipients}
        )
        assert json_answer.status_code == 413 and "at most 5" in json_answer.json()["detail"]


def test_csv_upload_with_an_idempotency_key_creates_one_campaign(stack: Stack) -> None:
    start_sms(stack, None, workers=0, **UNLIMITED)
    text = "phone\n" + "".join(f"{p}\n" for p in numbers(3))
    with stack.client(**{"Idempotency-Key": "csv-once"}) as client:
        first = _post_csv(client, text)
        again = _post_csv(client, text)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_a_100k_row_csv_is_accepted_in_batches_with_flat_gateway_memory(stack: Stack) -> None:
    start_sms(stack, None, workers=0, **UNLIMITED)
    text = "phone,name,pledge\n" + "".join(
        f"+24177{n:06d},C{n},{n % 997}\n" for n in range(100_000)
    )
    gateway = stack.processes["gateway"].pid
    with stack.client() as client:
        before = _rss_mb(gateway)
        answer = _post_csv(client, text)
        grown = _rss_mb(gateway) - before
        assert answer.status_code == 202, answer.text[:500]
        created = answer.json()
        assert created["total"] == 100_000 and created["rejected"] == []
        progress = campaign_progress(client, created["id"])
        assert (progress["total"], progress["pending"]) == (100_000, 0 + 100_000)
        last = client.get(
            f"/v1/campaigns/{created['id']}/messages", params={"cursor": "99989", "limit": 50}
        ).json()
    assert [m["to"] for m in last["items"]] == [f"+24177{n:06d}" for n in range(99_990, 100_000)]
    assert last["items"][-1]["row"] == 100_001  # its CSV line (the header is line 1)
    assert last["next_cursor"] is None
    assert grown < 50, f"gateway grew {grown:.0f} MB for a 100k-row upload"


def test_a_refused_upload_does_not_use_up_the_campaign_quota(stack: Stack) -> None:
    start_sms(stack, None, workers=0, SMS_CAMPAIGNS_PER_HOUR=1, SMS_CAMPAIGN_MAX_RECIPIENTS=3)
    with stack.client() as client:
        assert _post_csv(client, "phone\n12\n").status_code == 422
        assert _post_csv(client, "phone\n" + "\n".join(numbers(4))).status_code == 413
        assert _post_csv(client, "phone\n" + "\n".join(numbers(2))).status_code == 202
        assert _post_csv(client, "phone\n" + "\n".join(numbers(2))).status_code == 429
