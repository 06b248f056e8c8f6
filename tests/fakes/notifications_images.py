"""Sample files for image tests: photos with EXIF, a real decompression bomb, corrupt data."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

ORIENTATION = 0x0112
GPS_IFD = 0x8825


def rotated_photo(width: int = 4000, height: int = 3000, orientation: int = 6) -> bytes:
    """A JPEG stored `width` x `height`, top half red and bottom half blue, with EXIF
    orientation `orientation` and a GPS tag (to prove metadata is stripped)."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width, height // 2))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "RelayCam"  # Make
    exif.get_ifd(GPS_IFD)[2] = (48.0, 51.0, 24.0)  # GPSLatitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, exif=exif)
    return buffer.getvalue()


def small_png(width: int = 100, height: int = 100) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 30, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def webp(width: int = 640, height: int = 480) -> bytes:
    """A noisy WebP: detail, so that the output quality shows in the byte count."""
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(buffer, "WEBP", quality=90)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 16_000) -> bytes:
    """A genuine PNG of `side` x `side` black pixels: a few hundred KB on disk that would
    take side² bytes (256 MB at 16 000) once decoded."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def corrupt_jpeg() -> bytes:
    """JPEG magic bytes followed by garbage: passes the upload check, fails to decode."""
    return b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 40


def truncated_jpeg() -> bytes:
    whole = rotated_photo(800, 600, orientation=1)
    return whole[: len(whole) // 2]
