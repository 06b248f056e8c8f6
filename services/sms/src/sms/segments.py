"""How many parts an sms is sent in, and in which encoding.

Segments and encoding follow 3GPP TS 23.038 (GSM 7-bit default alphabet and its
extension table) and TS 23.040 (concatenated SMS: a 6-octet user-data header leaves 153
septets or 67 UTF-16 code units per part).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Encoding(StrEnum):
    gsm7 = "GSM-7"
    ucs2 = "UCS-2"


GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each of these is sent as ESC + char: two septets, and never split across parts.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_LIMIT = {Encoding.gsm7: 160, Encoding.ucs2: 70}
PART_LIMIT = {Encoding.gsm7: 153, Encoding.ucs2: 67}


@dataclass(frozen=True)
class Segmentation:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def _unit_sizes(text: str) -> tuple[Encoding, list[int]]:
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return Encoding.gsm7, [2 if char in GSM7_EXTENSION else 1 for char in text]
    # Characters outside the BMP (most emoji) are a surrogate pair: two code units.
    return Encoding.ucs2, [2 if ord(char) > 0xFFFF else 1 for char in text]


def segment(text: str) -> Segmentation:
    """Encoding, length in units and number of parts of `text`, exactly as a handset splits it."""
    encoding, sizes = _unit_sizes(text)
    units = sum(sizes)
    if units <= SINGLE_LIMIT[encoding]:
        return Segmentation(encoding, units, 1 if units else 0)
    # Pack parts greedily; an escape pair or a surrogate pair moves whole to the next part.
    limit = PART_LIMIT[encoding]
    parts, used = 1, 0
    for size in sizes:
        if used + size > limit:
            parts, used = parts + 1, 0
        used += size
    return Segmentation(encoding, units, parts)
