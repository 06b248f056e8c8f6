"""One message of the Laravel RabbitMQ driver (vladimir-yuldashev/laravel-queue-rabbitmq),
read into a `LaravelJob`, or a `LaravelWireError` saying why it cannot be.

What the driver publishes (RabbitMQQueue::pushRaw / createMessage): the JSON of Laravel's
Queue::createPayload plus `id`, to the default exchange with the queue's name as routing
key, content_type application/json, delivery_mode 2, correlation_id = `id`, and the header
`laravel`, a table `{"attempts": N}`: 0 when dispatched, the attempts so far when a PHP
worker released it (Laravel's own count, Job::attempts(), is N + 1).

Design note: what the bridge process (not built here) takes from these modules.
- At start: `parse_app_key(LARAVEL_APP_KEY)` (bridge.laravel_crypto) once; a LaravelKeyError
  stops the process with its message. Several keys may be passed while one is rotated.
- Per delivery: `parse_message(body, headers, app_keys=...)`. Nothing here does I/O, so a
  message either becomes a LaravelJob or raises a LaravelWireError subclass; never retry
  one: store the original bytes in the failed store under queue `laravel.<queue>` with
  `error.reason`, which names the job class and property when known (`job_class`,
  `property_name` are also separate for the record), then ack.
- Mapping: `job.command_name` picks the domain's adapter; it reads `job.arguments()` (the
  job's own properties, Eloquent models already replaced by their keys, see
  bridge.eloquent) under the contract's aliases.
- Carried into Relay: `job.uuid` as the Relay id (idempotency across redeliveries),
  `max_tries`, `backoff_for(attempt)`, `retry_until`, `timeout`, and `attempt`.
- Not carried, to be refused or reported by the bridge: chains (`job.chained`), batches
  (a `batchId` property), unique locks (ShouldBeUnique leaves no mark in the payload).
  A delayed dispatch (`delay`) has already waited in the driver's delay queue: not again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from .eloquent import with_model_ids
from .errors import (
    CommandSerializeError,
    DecryptError,
    LaravelWireError,
    MissingAppKeyError,
    NotJsonError,
    PayloadFieldError,
)
from .laravel_crypto import LaravelDecryptError, decrypt_string, looks_encrypted
from .php_serialize import PhpObject, PhpSerializeError, loads

__all__ = [
    "QUEUE_TRAIT_PROPERTIES",
    "CommandSerializeError",
    "DecryptError",
    "LaravelJob",
    "LaravelWireError",
    "MissingAppKeyError",
    "NotJsonError",
    "PayloadFieldError",
    "attempts_from_headers",
    "parse_message",
]

CALL_QUEUED_HANDLER = "Illuminate\\Queue\\CallQueuedHandler@call"
# Properties every queued job gets from Laravel's traits (Queueable, InteractsWithQueue) and
# the worker settings it may declare; what remains are the job's own arguments.
QUEUE_TRAIT_PROPERTIES = frozenset(
    {
        *("job", "connection", "queue", "chainConnection", "chainQueue"),
        *("chainCatchCallbacks", "delay", "afterCommit", "middleware", "chained"),
        *("tries", "backoff", "timeout", "maxExceptions", "failOnTimeout", "retryUntil"),
    }
)
_BACKOFF_ITEM = re.compile(r"\s*-?[0-9]+(?:\.[0-9]*)?\s*")


class _Data(BaseModel):
    commandName: str
    command: str


class _Payload(BaseModel):
    """Laravel's payload as JSON carries it; unknown fields (other hooks') are ignored."""

    uuid: UUID
    id: str | None = None
    displayName: str | None = None
    job: str
    maxTries: int | None = None
    maxExceptions: int | None = None
    failOnTimeout: bool = False
    backoff: str | int | None = None
    timeout: int | None = None
    retryUntil: int | None = None
    data: _Data


class LaravelJob(BaseModel):
    """One job as the Laravel app dispatched it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    uuid: UUID
    driver_id: str | None  # the driver's `id`, also the message's correlation_id
    display_name: str
    command_name: str
    command: PhpObject
    encrypted: bool
    max_tries: int | None
    max_exceptions: int | None
    fail_on_timeout: bool
    backoff: tuple[int, ...] | None  # seconds before each retry; the last one repeats
    timeout: int | None
    retry_until: int | None  # Unix time after which Laravel stops retrying
    laravel_attempts: int  # the driver's header: attempts made before this delivery

    @property
    def attempt(self) -> int:
        """This delivery's attempt number, as Laravel's Job::attempts() counts it."""
        return self.laravel_attempts + 1

    @property
    def chained(self) -> list[Any]:
        chained = self.command.get("chained")
        return chained if isinstance(chained, list) else []

    def backoff_for(self, attempt: int) -> int | None:
        """Seconds to wait after a failed `attempt` (1-based), Laravel's rule
        (Worker::calculateBackoff): the attempt's entry, else the last one."""
        if not self.backoff:
            return None
        return self.backoff[min(max(attempt, 1), len(self.backoff)) - 1]

    def arguments(self) -> dict[str, Any]:
        """The job's own properties by plain name, Eloquent models as their keys."""
        own = {
            name: value
            for name, value in self.command.values().items()
            if name not in QUEUE_TRAIT_PROPERTIES
        }
        resolved: dict[str, Any] = with_model_ids(own)
        return resolved


def attempts_from_headers(headers: Mapping[str, Any] | None) -> int:
    """The `laravel.attempts` header: a nested table as the driver sets it (a JSON string is
    accepted too); missing or unreadable is 0, as the driver's RabbitMQJob::attempts reads it."""
    laravel = (headers or {}).get("laravel")
    if isinstance(laravel, bytes | str):
        try:
            laravel = json.loads(laravel)
        except ValueError:
            return 0
    attempts = laravel.get("attempts") if isinstance(laravel, Mapping) else None
    if isinstance(attempts, bool) or not isinstance(attempts, int | str | bytes):
        return 0
    try:
        return max(int(attempts), 0)
    except ValueError:
        return 0


def parse_message(
    body: bytes, headers: Mapping[str, Any] | None = None, *, app_keys: Sequence[bytes] = ()
) -> LaravelJob:
    """The job in one message of the driver; a LaravelWireError subclass when unreadable."""
    try:
        document = json.loads(body)
    except ValueError as error:  # also a body that is not UTF-8
        raise NotJsonError(f"the body is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise NotJsonError("the body is JSON but not an object")
    command_name = _command_name(document)
    data = document.get("data")
    if not isinstance(data, dict) or "command" not in data:
        job = document.get("job")
        raise PayloadFieldError(
            f"no data.command: not a queued job object (job {job!r})", job_class=command_name
        )
    try:
        payload = _Payload.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PayloadFieldError(f"{field}: {first['msg']}", job_class=command_name) from None
    if payload.job != CALL_QUEUED_HANDLER:
        # Only object jobs (dispatch(new Job)) run through this handler; another `job`
        # would make the PHP worker call something else with this data.
        raise PayloadFieldError(
            f"job {payload.job!r} is not {CALL_QUEUED_HANDLER}, which runs queued objects",
            job_class=command_name,
        )
    command, encrypted = _read_command(payload.data.command, payload.data.commandName, app_keys)
    return LaravelJob(
        uuid=payload.uuid,
        driver_id=payload.id,
        display_name=payload.displayName or payload.data.commandName,
        command_name=payload.data.commandName,
        command=command,
        encrypted=encrypted,
        max_tries=payload.maxTries,
        max_exceptions=payload.maxExceptions,
        fail_on_timeout=payload.failOnTimeout,
        backoff=_backoff(payload.backoff, payload.data.commandName),
        timeout=payload.timeout,
        retry_until=payload.retryUntil,
        laravel_attempts=attempts_from_headers(headers),
    )


def _command_name(document: dict[str, Any]) -> str | None:
    data = document.get("data")
    name = data.get("commandName") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _backoff(value: str | int | None, job_class: str) -> tuple[int, ...] | None:
    """Laravel writes `implode(',', backoff)`: "10,30,60", "30", or null."""
    if value is None or value == "":
        return None
    items = str(value).split(",")
    if not all(_BACKOFF_ITEM.fullmatch(item) for item in items):
        raise PayloadFieldError(
            f"backoff {value!r} is not seconds separated by commas", job_class=job_class
        )
    return tuple(max(int(float(item)), 0) for item in items)  # PHP's (int) truncates


def _read_command(command: str, command_name: str, keys: Sequence[bytes]) -> tuple[PhpObject, bool]:
    """What CallQueuedHandler::getCommand does: serialize() output starts with `O:`; anything
    else is taken for an Encrypter payload of that output."""
    encrypted = not command.startswith("O:")
    if not encrypted:
        serialized = command.encode("utf-8", "surrogatepass")
    elif not looks_encrypted(command):
        raise CommandSerializeError(
            "data.command is neither serialize() output nor an encrypted job",
            job_class=command_name,
        )
    elif not keys:
        raise MissingAppKeyError(
            "the job is encrypted (ShouldBeEncrypted) and LARAVEL_APP_KEY is not set",
            job_class=command_name,
        )
    else:
        try:
            serialized = _unwrap(decrypt_string(command, keys), command_name)
        except LaravelDecryptError as error:
            raise DecryptError(str(error), job_class=command_name) from None
    try:
        value = loads(serialized)
    except PhpSerializeError as error:
        raise CommandSerializeError(
            str(error),
            job_class=error.class_name or command_name,
            property_name=error.property_name,
        ) from None
    if not isinstance(value, PhpObject):
        raise CommandSerializeError(
            f"data.command holds a {type(value).__name__}, not a job object", job_class=command_name
        )
    if value.class_name != command_name:
        raise CommandSerializeError(
            f"data.commandName says {command_name} but the command is a {value.class_name}",
            job_class=command_name,
        )
    return value, encrypted


def _unwrap(plaintext: bytes, command_name: str) -> bytes:
    """Queue::createObjectPayload encrypts serialize($job) with encrypt(), which serializes
    again: the plaintext is `s:N:"O:...";`. A bare `O:` (encryptString) is taken as is."""
    if plaintext.startswith(b"O:"):
        return plaintext
    try:
        inner = loads(plaintext)
    except PhpSerializeError as error:
        raise CommandSerializeError(f"decrypted, but {error}", job_class=command_name) from None
    if isinstance(inner, str):
        return inner.encode("utf-8")
    if isinstance(inner, bytes):
        return inner
    raise CommandSerializeError(
        f"decrypted, but holds a {type(inner).__name__}, not a job", job_class=command_name
    )
