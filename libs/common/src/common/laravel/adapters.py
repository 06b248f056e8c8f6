"""What a domain hands the Laravel bridge: one adapter per kind of Relay job that a Laravel
job class can become, named under the `relay.laravel` entry point group (as a domain names
its topology, migrations and retention rules).

The bridge reads a Laravel message, finds the adapter of its class, resolves the adapter's
fields from the job's properties (by the adapter's aliases, or a map file's) and calls
`accept` with a LaravelCall. The adapter runs the same service function as the domain's
HTTP route, for the job's user, with the Laravel `uuid` as the Relay id, and answers what
it created. It raises LaravelInputError for a property it cannot use (the message then goes
to the failed store, its reason naming the class and the property), BrokerUnavailable or an
infrastructure error when Relay cannot take the job now (the message waits, unacked).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..envelope import Envelope
from .errors import LaravelInputError, php_type
from .files import LaravelFiles

if TYPE_CHECKING:
    from ..runtime import Runtime

ENTRY_POINTS = "relay.laravel"


@dataclass(frozen=True)
class Created:
    """What a Laravel job became in Relay: a `kind` of thing with id `id`; `new` is False
    when that id existed already (the same job seen again: nothing new was made)."""

    kind: str
    id: uuid.UUID
    new: bool = True


@dataclass(frozen=True)
class LaravelCall:
    """One Laravel job, handed to the adapter of its class."""

    job_id: uuid.UUID  # the Laravel payload's `uuid`: the Relay id of what the job creates
    job_class: str
    laravel_queue: str  # the Laravel queue it was dispatched on
    values: Mapping[str, Any]  # the adapter's fields found among the job's properties
    attempt: int = 1  # this delivery's attempt, as Laravel counts them (laravel.attempts + 1)
    # Laravel's $tries, $backoff, $timeout and retryUntil() as the runtime's policy headers.
    policy: Mapping[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    # The Laravel app's storage directory, for jobs that name a file (LARAVEL_STORAGE_DIR).
    files: LaravelFiles = field(default_factory=LaravelFiles)
    # The Relay user of a job whose class names none (LARAVEL_DEFAULT_USER).
    default_user: str = "laravel"

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def text(self, name: str) -> str:
        """A required field as text: a string, or a number written as PHP would print it."""
        value = self.values.get(name)
        if value is None:
            raise LaravelInputError(name, "is missing")
        if isinstance(value, bytes):
            raise LaravelInputError(name, "is a string that is not UTF-8 text")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise LaravelInputError(name, f"must be text, not {php_type(value)}")
        return value if isinstance(value, str) else _php_number(value)

    def optional_text(self, name: str) -> str | None:
        return self.text(name) if self.has(name) else None

    def user_id(self, name: str = "user") -> str:
        """The Relay user id: the Laravel value (a key, or a model's key) as a string."""
        value = self.values.get(name)
        if value is None:
            raise LaravelInputError(name, "is missing (the user the job is for)")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise LaravelInputError(name, f"must be a user id, not {php_type(value)}")
        text = str(value).strip()
        if not text or len(text) > 200:
            raise LaravelInputError(name, "must be a user id of 1 to 200 characters")
        return text

    def envelope(self, message_id: str, user_id: str, *, carry_policy: bool = True) -> Envelope:
        """The Relay job's envelope. With `carry_policy`, Laravel's attempt count and retry
        policy go with it; without, the Relay job starts at attempt 1 under its queue's policy."""
        return Envelope(
            message_id=message_id,
            correlation_id=self.correlation_id,
            attempt=self.attempt if carry_policy else 1,
            user_id=user_id,
            headers=dict(self.policy) if carry_policy else {},
        )


Accept = Callable[["Runtime", LaravelCall], Awaitable[Created]]


@dataclass(frozen=True)
class LaravelAdapter:
    """How Laravel jobs of some classes become one kind of Relay job."""

    kind: str  # what the map file calls it
    classes: tuple[str, ...]  # classes mapped out of the box, relative to the job namespace
    # field -> the job properties it is read from, tried in order; `a.b` reads key `b`
    # of the array (or object) in property `a`.
    fields: Mapping[str, tuple[str, ...]]
    accept: Accept
    carried: str = ""  # which of Laravel's attempts, tries, backoff, timeout, retryUntil it keeps


@functools.cache
def registered_adapters() -> dict[str, LaravelAdapter]:
    """Every installed domain's adapters (the `relay.laravel` entry points), by kind."""
    adapters: dict[str, LaravelAdapter] = {}
    for entry in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        declared = entry.load()
        for adapter in declared:
            if not isinstance(adapter, LaravelAdapter):
                raise TypeError(
                    f"entry point {entry.value} holds {adapter!r}, not a LaravelAdapter"
                )
            if adapter.kind in adapters:
                raise ValueError(f"two Laravel adapters of kind {adapter.kind!r}")
            adapters[adapter.kind] = adapter
    return adapters


def input_error(error: ValidationError, fields: Mapping[str, str]) -> LaravelInputError:
    """The first problem of a request body's validation, named by the adapter's field
    (`fields` maps the body's field names to the adapter's)."""
    first = error.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"]]
    name = fields.get(location[0], location[0]) if location else "job"
    detail = ".".join(location[1:])
    message = str(first["msg"]).removeprefix("Value error, ")
    return LaravelInputError(name, f"{detail}: {message}" if detail else message)


def _php_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
