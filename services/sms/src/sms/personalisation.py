"""Campaign templates: `#name #pledge #paid_amount #balance #days_remain` per recipient."""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDERS = ("name", "pledge", "paid_amount", "balance", "days_remain")
_PLACEHOLDER = re.compile(r"#(" + "|".join(PLACEHOLDERS) + r")\b")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def personalise(template: str, fields: Mapping[str, object]) -> str:
    """Replace `#name #pledge #paid_amount #balance #days_remain`; a missing value becomes ""."""
    return _PLACEHOLDER.sub(lambda match: _text(fields.get(match.group(1))), template)
