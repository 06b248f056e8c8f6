"""Image jobs through the gateway: upload checks, Pillow variants, bombs and corrupt files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fakes.notifications_images import (
    GPS_IFD,
    corrupt_jpeg,
    png_bomb,
    rotated_photo,
    small_png,
)
from tests.support import ADMIN_KEY, OTHER_KEY, Stack, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def storage_dir(tmp_path: Path) -> str:
    return str(tmp_path / "images")


def _start(stack: Stack, storage_dir: str, worker: bool = True, **env: Any) -> None:
    stack.start("gateway", IMAGE_STORAGE_DIR=storage_dir, **env)
    if worker:
        stack.start(
            "notifications", IMAGE_STORAGE_DIR=storage_dir, JOB_RETRY_DELAYS="0.2,0.5", **env
        )
    stack.wait_ready()
    if worker:
        stack.wait_consuming("notifications.image")


def _upload(
    client: httpx.Client, data: bytes, name: str = "photo.jpg", **fields: Any
) -> httpx.Response:
    return client.post(
        "/v1/images",
        files={"file": (name, data, "application/octet-stream")},
        data={key: str(value) for key, value in fields.items()},
    )


def _finished(client: httpx.Client, image_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any]:
        answer = client.get(f"/v1/images/{image_id}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] in ("done", "failed"), answer.json()
        return dict(answer.json())

    return eventually(settled, timeout=60, interval=0.1)


def _image(client: httpx.Client, link: str) -> Image.Image:
    answer = client.get(link)
    assert answer.status_code == 200, answer.text
    image = Image.open(io.BytesIO(answer.content))
    image.load()
    return image


def test_rotated_4000x3000_jpeg_becomes_upright_within_1200_and_small_image_is_not_upscaled(
    stack: Stack, storage_dir: str
) -> None:
    _start(stack, storage_dir)
    with stack.client() as client:
        answer = _upload(client, rotated_photo(4000, 3000, orientation=6))
        assert answer.status_code == 202, answer.text
        image = _finished(client, answer.json()["id"])
        assert image["status"] == "done" and image["error"] is None
        assert set(image["links"]) == {"original", "large", "thumb"}

        large = _image(client, image["links"]["large"])
        assert large.format == "JPEG" and large.size == (900, 1200)  # upright: portrait
        assert large.getpixel((800, 600))[0] > 200  # type: ignore[index]  # red on the right
        assert large.getpixel((100, 600))[2] > 200  # type: ignore[index]  # blue on the left
        assert len(large.getexif()) == 0 and not large.getexif().get_ifd(GPS_IFD)

        thumb = _image(client, image["links"]["thumb"])
        assert thumb.size == (225, 300)
        original = client.get(image["links"]["original"])
        assert (
            original.content[:3] == b"\xff\xd8\xff"
            and original.headers["content-type"] == "image/jpeg"
        )

        small = _upload(client, small_png(100, 100), name="dot.png", width=2000, height=2000)
        image = _finished(client, small.json()["id"])
        assert image["status"] == "done"
        assert _image(client, image["links"]["large"]).size == (100, 100)
        assert _image(client, image["links"]["thumb"]).size == (100, 100)


def test_text_file_is_415_and_oversized_file_is_413_and_nothing_is_stored(
    stack: Stack, storage_dir: str
) -> None:
    _start(stack, storage_dir, worker=False, IMAGE_MAX_BYTES=300_000)
    with stack.client() as client:
        text = _upload(client, b"just some text, not an image\n" * 10, name="notes.jpg")
        assert text.status_code == 415, text.text
        assert client.post("/v1/images", json={"file": "x"}).status_code == 415

        oversized = _upload(client, rotated_photo(2400, 1800, orientation=1) + b"\x00" * 300_000)
        assert oversized.status_code == 413, oversized.text

        def chunked_body() -> Iterator[bytes]:
            # No Content-Length: the limit must hold while streaming.
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
            yield b"\xff\xd8\xff\xe0"
            for _ in range(40):
                yield b"\x00" * 16_384
            yield b"\r\n--b--\r\n"

        streamed = client.post(
            "/v1/images",
            content=chunked_body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413, streamed.text

        assert _upload(client, small_png(), quality=0).json()["errors"][0]["field"] == "quality"
        assert client.post("/v1/images", files={"other": ("a.png", small_png())}).status_code == 422
        stored = list(Path(storage_dir).rglob("*")) if Path(storage_dir).exists() else []
        assert [p for p in stored if p.is_file()] == []


def test_decompression_bomb_and_corrupt_file_fail_at_once_and_are_listed_in_ops_failed(
    stack: Stack, storage_dir: str
) -> None:
    _start(stack, storage_dir)
    bomb = png_bomb(16_000)
    assert len(bomb) < 1_000_000  # tiny on disk, 256 MB once decoded
    with stack.client() as client, stack.client(ADMIN_KEY) as admin:
        answer = _upload(client, bomb, name="bomb.png")
        assert answer.status_code == 202, answer.text
        image = _finished(client, answer.json()["id"])
        assert image["status"] == "failed" and "decompression bomb" in image["error"]
        assert set(image["links"]) == {"original"}
        failed = eventually(
            lambda: admin.get("/v1/ops/failed", params={"queue": "notifications.image"}).json(),
            timeout=30,
        )
        assert len(failed) == 1 and failed[0]["attempts"] == 1
        assert "decompression bomb" in failed[0]["error"]
        assert failed[0]["payload"]["image_id"] == answer.json()["id"]
        assert client.get(f"/v1/images/{answer.json()['id']}/large").status_code == 404

        corrupt = _upload(client, corrupt_jpeg())
        assert corrupt.status_code == 202
        image = _finished(client, corrupt.json()["id"])
        assert image["status"] == "failed" and image["error"]

        def both_failed_once() -> bool:
            failed = admin.get("/v1/ops/failed", params={"queue": "notifications.image"}).json()
            assert {f["payload"]["image_id"]: f["attempts"] for f in failed} == {
                answer.json()["id"]: 1,
                corrupt.json()["id"]: 1,
            }
            return True

        eventually(both_failed_once, timeout=30)


def test_another_users_image_is_404(stack: Stack, storage_dir: str) -> None:
    _start(stack, storage_dir, worker=False)
    with stack.client() as client, stack.client(OTHER_KEY) as other:
        image_id = _upload(client, small_png()).json()["id"]
        assert client.get(f"/v1/images/{image_id}").json()["status"] == "queued"
        assert other.get(f"/v1/images/{image_id}").status_code == 404
        assert other.get(f"/v1/images/{image_id}/original").status_code == 404
        assert client.get(f"/v1/images/{image_id}/original").status_code == 200
        assert client.get(f"/v1/images/{image_id}/thumb").status_code == 404  # not made yet
