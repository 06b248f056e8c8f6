"""What every JSON request body declares, so its OpenAPI schema is the input it accepts.

The gateway refuses a JSON body holding NUL (`\\u0000`) anywhere, before any route runs
(Postgres `text` and `jsonb` cannot store it). A body therefore forbids fields it does not
know (a NUL could hide in an ignored one, and a misspelt optional field is better answered
with a 422 naming it than silently dropped), and its text fields declare that they hold
no NUL: the document then promises nothing the gateway refuses.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

NO_NUL = r"^[^\x00]*$"
# Not empty, not only whitespace, and no NUL anywhere (`.strip()` would leave nothing).
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"

Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""A text field of a request body: any text without NUL."""

NonBlankText = Annotated[str, StringConstraints(pattern=NOT_BLANK)]
"""A text field that must say something: at least one character that is not whitespace."""


class RequestBody(BaseModel):
    """A JSON request body: unknown fields are refused with a 422 naming them."""

    model_config = ConfigDict(extra="forbid")


class CallbackBody(BaseModel):
    """A body a provider posts to us (delivery receipts, inbound messages): providers add
    fields of their own (timestamps, network codes), so unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")
