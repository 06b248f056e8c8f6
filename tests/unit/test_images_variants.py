"""The image work (Pillow, no I/O): orientation, box, no upscaling, metadata, bombs."""

from __future__ import annotations

import io

import pytest
from notifications.contracts import sniff_image_format
from notifications.images import BadImage, ImageSpec, make_variants
from PIL import Image

from tests.fakes.notifications_images import (
    GPS_IFD,
    corrupt_jpeg,
    png_bomb,
    rotated_photo,
    small_png,
    truncated_jpeg,
    webp,
)

SPEC = ImageSpec(width=1200, height=1200, quality=85, max_pixels=50_000_000)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_rotated_photo_becomes_upright_within_the_box_keeping_its_ratio() -> None:
    variants = make_variants(rotated_photo(4000, 3000, orientation=6), SPEC)
    large = _open(variants.large.data)
    assert large.format == "JPEG"
    assert large.size == (900, 1200)  # 3000 x 4000 upright, scaled by 0.3
    # Stored top (red) is on the right once rotated 90 degrees clockwise.
    red, _green, blue = large.getpixel((800, 600))  # type: ignore[misc]
    assert red > 200 and blue < 60
    red, _green, blue = large.getpixel((100, 600))  # type: ignore[misc]
    assert blue > 200 and red < 60
    thumb = _open(variants.thumb.data)
    assert thumb.size == (225, 300)
    assert (variants.large.width, variants.large.height) == (900, 1200)


def test_metadata_is_stripped_from_every_variant() -> None:
    variants = make_variants(rotated_photo(1600, 1200, orientation=6), SPEC)
    for data in (variants.large.data, variants.thumb.data):
        image = _open(data)
        exif = image.getexif()
        assert len(exif) == 0 and not exif.get_ifd(GPS_IFD)
        assert "exif" not in image.info


def test_small_image_is_not_upscaled_and_keeps_its_transparency() -> None:
    variants = make_variants(small_png(100, 100), SPEC)
    large = _open(variants.large.data)
    assert large.format == "PNG" and large.size == (100, 100) and large.mode == "RGBA"
    assert _open(variants.thumb.data).size == (100, 100)


def test_requested_box_and_quality_are_applied() -> None:
    spec = ImageSpec(width=320, height=320, quality=40, max_pixels=50_000_000)
    low = make_variants(webp(640, 480), spec)
    high = make_variants(webp(640, 480), ImageSpec(320, 320, 95, 50_000_000))
    assert _open(low.large.data).size == (320, 240)
    assert _open(low.large.data).format == "WEBP"
    assert len(low.large.data) < len(high.large.data)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(BadImage, match="decompression bomb"):
        make_variants(png_bomb(8_000), ImageSpec(1200, 1200, 85, max_pixels=50_000_000))


@pytest.mark.parametrize("data", [corrupt_jpeg(), truncated_jpeg(), b"\x89PNG\r\n\x1a\nnope"])
def test_corrupt_or_truncated_file_is_a_bad_image(data: bytes) -> None:
    with pytest.raises(BadImage):
        make_variants(data, SPEC)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d", "PNG"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"hello, this is text", None),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"", None),
    ],
)
def test_image_type_is_judged_by_magic_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_image_format(head) == expected
