"""Why a Laravel message cannot be read: one class per cause, each with a `reason` that
names the job class and the property when they are known (for the failed-job record)."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CommandSerializeError",
    "DecryptError",
    "LaravelWireError",
    "MissingAppKeyError",
    "NotCarriedError",
    "NotJsonError",
    "PayloadFieldError",
    "PropertyError",
    "UnmappedClassError",
]


class LaravelWireError(ValueError):
    """A message the bridge cannot read; `reason` says why, for the failed-job record."""

    code: ClassVar[str] = "unreadable"

    def __init__(
        self, problem: str, *, job_class: str | None = None, property_name: str | None = None
    ) -> None:
        self.problem = problem
        self.job_class = job_class
        self.property_name = property_name
        where = [job_class] if job_class else []
        if property_name:
            where.append(f"property {property_name!r}")
        self.reason = f"{', '.join(where)}: {problem}" if where else problem
        super().__init__(self.reason)


class NotJsonError(LaravelWireError):
    code = "not_json"


class PayloadFieldError(LaravelWireError):
    """A field of Laravel's payload is missing or of the wrong type (`data.command` too)."""

    code = "invalid_payload"


class CommandSerializeError(LaravelWireError):
    """`data.command` is not a complete serialize() of one job object."""

    code = "bad_serialize"


class MissingAppKeyError(LaravelWireError):
    code = "no_app_key"


class DecryptError(LaravelWireError):
    """Encrypted with another APP_KEY, or altered."""

    code = "decrypt_failed"


class UnmappedClassError(LaravelWireError):
    """No adapter takes the job's class, and LARAVEL_UNMAPPED_QUEUE is not set."""

    code = "unmapped"


class NotCarriedError(LaravelWireError):
    """The job relies on what Relay does not carry over (a chain, a batch)."""

    code = "not_carried"


class PropertyError(LaravelWireError):
    """A property the Relay job needs is missing, or cannot be what it needs."""

    code = "invalid_property"
