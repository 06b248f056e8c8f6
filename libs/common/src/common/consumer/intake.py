"""Reading a delivery into its job, or the reason it cannot be one.

A work queue carries one job kind as JSON. A delivery is refused (and goes straight to the
failed-job store, never retried) when its `content_type` names something else than JSON,
its `type` names another job, or its body is empty or does not validate. A missing
`type` or `content_type` is not a fault on its own: the queue says which job it is and
the body is validated either way, so a foreign producer that omits them still works.
"""

from __future__ import annotations

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from ..envelope import Job, job_type
from ..safe_text import storable


class Refused(Exception):
    """The delivery is not a job of its queue; the message says why and what to do."""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def read_job(model: type[Job], queue: str, message: AbstractIncomingMessage) -> Job:
    """The job `message` carries for `queue`, validated by `model`; Refused if none."""
    content_type = message.content_type
    if content_type and not _is_json(content_type):
        raise Refused(
            f"content_type {storable(content_type, 100)!r} is not JSON: {queue} takes "
            f"{job_type(model)} as application/json"
        )
    expected = job_type(model)
    if message.type and message.type != expected:
        raise Refused(
            f"type {storable(message.type, 100)!r} does not belong on {queue}, which takes "
            f"{expected}: publish it to its own queue"
        )
    body = message.body
    if not body:
        raise Refused(f"invalid payload: the body is empty; {queue} takes {expected} as JSON")
    try:
        return model.model_validate_json(body)
    except (ValidationError, ValueError) as invalid:
        raise Refused(f"invalid payload: {storable(str(invalid), 2000)}") from invalid
