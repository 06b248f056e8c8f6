"""The image work itself, with Pillow and no I/O: bytes of an original in, variants out.

Runs in a thread (Pillow releases the GIL while decoding and resampling).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from .contracts import IMAGE_CONTENT_TYPES, THUMBNAIL_SIZE

_ORIENTATION = 0x0112
# EXIF orientations that swap width and height (rotated by 90 or 270 degrees).
_SIDEWAYS = {5, 6, 7, 8}


class BadImage(Exception):
    """The file can never become an image: corrupt, truncated, unsupported or a bomb."""


@dataclass(frozen=True)
class ImageSpec:
    width: int
    height: int
    quality: int
    max_pixels: int
    thumbnail: tuple[int, int] = THUMBNAIL_SIZE


@dataclass(frozen=True)
class Variant:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Variants:
    large: Variant
    thumb: Variant


def make_variants(original: bytes, spec: ImageSpec) -> Variants:
    """Upright, metadata-free `large` (within width x height) and `thumb` variants.

    Never upscales: `Image.thumbnail` only shrinks. Raises BadImage for any file that
    cannot be decoded, so the job fails at once instead of being retried.
    """
    try:
        with Image.open(io.BytesIO(original)) as source:
            image_format = source.format or ""
            if image_format not in IMAGE_CONTENT_TYPES:
                raise BadImage(f"unsupported image format {image_format or 'unknown'}")
            width, height = source.size
            # Checked before decoding a single pixel: the header alone tells the size.
            if width * height > spec.max_pixels:
                raise BadImage(
                    f"decompression bomb: {width}x{height} is {width * height} pixels, "
                    f"over IMAGE_MAX_PIXELS ({spec.max_pixels})"
                )
            icc_profile = source.info.get("icc_profile")
            orientation = source.getexif().get(_ORIENTATION)
            box = (spec.width, spec.height)
            if orientation in _SIDEWAYS:
                box = (spec.height, spec.width)
            # thumbnail() on the freshly opened file lets a JPEG decode at 1/2..1/8 scale
            # (draft mode): a 12 MP photo never exists at full size in memory.
            source.thumbnail(box, Image.Resampling.LANCZOS)
            large = ImageOps.exif_transpose(source)
    except BadImage:
        raise
    except Image.DecompressionBombError as bomb:
        raise BadImage(f"decompression bomb: {bomb}") from bomb
    except UnidentifiedImageError as unknown:
        raise BadImage(f"not a readable image: {unknown}") from unknown
    except (OSError, SyntaxError, ValueError, EOFError) as corrupt:
        raise BadImage(f"corrupt or truncated image: {corrupt}") from corrupt

    large = _output_mode(large, image_format)
    thumb = large.copy()
    thumb.thumbnail(spec.thumbnail, Image.Resampling.LANCZOS)
    return Variants(
        large=_encode(large, image_format, spec.quality, icc_profile),
        thumb=_encode(thumb, image_format, spec.quality, icc_profile),
    )


def _output_mode(image: Image.Image, image_format: str) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image_format == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(
    image: Image.Image, image_format: str, quality: int, icc_profile: bytes | None
) -> Variant:
    # Only what we pass here is written: no EXIF (GPS, camera, orientation), XMP or
    # comments. The ICC profile stays so colours do not shift on wide-gamut photos.
    image.info = {}
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if image_format == "JPEG":
        options.update(quality=quality, optimize=True)
    elif image_format == "WEBP":
        options.update(quality=quality, method=4)
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return Variant(buffer.getvalue(), image.width, image.height)
