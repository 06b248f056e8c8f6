"""Data schemathesis cannot derive from JSON Schema, for what our OpenAPI document names.

Loaded by `st` through SCHEMATHESIS_HOOKS (see test_gateway_fuzz.py). Each entry stands for
a rule the document states in its own terms but no JSON Schema keyword can express;
without it, "schema-valid request rejected" would report random data the gateway rightly
refuses:

- `format: phone`: a number libphonenumber calls valid (no pattern can say which are).
- `text/csv` (a campaign's recipients, raw or as the multipart `file`): a header row
  naming `phone`, then rows with a valid number.
- `image/jpeg`, `image/png`, `image/webp` (the `file` of POST /v1/images): real images,
  since the gateway judges a file by its bytes.
- A CSV campaign takes `name` and `message` from the query, required for that media type
  only; OpenAPI cannot make a parameter required for one body type, so CSV cases without
  them are not generated (nor multipart forms schemathesis filled with blanks, below).
"""

from __future__ import annotations

import io

import phonenumbers
import schemathesis
from hypothesis import strategies as st
from PIL import Image

# One real example number per region (libphonenumber's metadata), written as E.164.
_EXAMPLES = sorted(
    phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    for region in phonenumbers.SUPPORTED_REGIONS
    if (number := phonenumbers.example_number(region)) is not None
)
phones = st.sampled_from(_EXAMPLES)
schemathesis.openapi.format("phone", phones)


@st.composite
def recipients_csv(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(phones, min_size=1, max_size=5))
    names = st.text(st.characters(categories=["L", "N", "Zs"]), max_size=20)
    lines = ["phone,name", *(f"{phone},{draw(names)}" for phone in rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


schemathesis.openapi.media_type("text/csv", recipients_csv())


def image_bytes(image_format: str) -> st.SearchStrategy[bytes]:
    def encode(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", size, colour).save(buffer, format=image_format)
        return buffer.getvalue()

    sizes = st.tuples(st.integers(1, 64), st.integers(1, 64))
    colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
    return st.builds(encode, sizes, colours)


for media_type, image_format in (
    ("image/jpeg", "JPEG"),
    ("image/png", "PNG"),
    ("image/webp", "WEBP"),
):
    schemathesis.openapi.media_type(media_type, image_bytes(image_format))


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    if case.operation.path != "/v1/campaigns":
        return True
    if case.media_type == "text/csv":
        query = case.query or {}
        return query.get("name") is not None and query.get("message") is not None
    if case.media_type == "multipart/form-data" and isinstance(case.body, dict):
        # schemathesis 4.32's coverage phase, once a form has an `encoding` (the CSV
        # `file`), fills every other required field with "" whatever its schema says
        # (`_generate_multipart_body_from_custom_strategies`): not a schema-valid request.
        return all(case.body.get(field) not in (None, "") for field in ("name", "message"))
    return True
