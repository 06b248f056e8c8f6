"""Which adapter takes a Laravel job class, and which properties each of its fields is read
from.

Out of the box, every adapter's classes under each LARAVEL_JOB_NAMESPACE (`App\\Jobs\\`),
read by the adapter's property names. LARAVEL_JOB_MAP names a TOML file that adds classes
or overrides them (docs/laravel.md):

    [jobs.SendOtpSmsJob]                     # relative to the namespaces, or a full name
    kind = "sms"                             # sms | campaign | notification | image | unmapped
    properties = { phone = "mobile", user = ["customerId", "userId"] }

`properties` replaces the names of the fields it lists (one name, or several tried in
order; `data.user_id` reads key `user_id` of the array in property `data`); the other
fields keep the adapter's names. `kind = "unmapped"` leaves a class to the PHP workers.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.laravel import LaravelAdapter, LaravelInputError
from pydantic import BaseModel, ConfigDict, ValidationError

UNMAPPED = "unmapped"


class JobMapError(ValueError):
    """LARAVEL_JOB_MAP cannot be used; the message says where and why."""


@dataclass(frozen=True)
class JobMapping:
    """How one Laravel job class becomes a Relay job."""

    job_class: str
    adapter: LaravelAdapter
    fields: Mapping[str, tuple[str, ...]]

    def property_of(self, field: str, found: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
        """The property a field came from; when it was missing, the first name it is read
        from and the others that were looked for too."""
        if field in found:
            return found[field], ()
        names = self.fields.get(field, (field,))
        return names[0], names[1:]

    def resolve(self, arguments: Mapping[str, Any], found: dict[str, str]) -> dict[str, Any]:
        """The fields found among the job's properties; `found` is told which property
        each one was read from."""
        values: dict[str, Any] = {}
        for field, names in self.fields.items():
            for name in names:
                present, value = _lookup(arguments, name)
                if present and value is not None:
                    found[field] = name
                    if _holds_nul(value):
                        # Postgres text cannot hold NUL; the gateway refuses it in any body.
                        raise LaravelInputError(field, "holds a NUL character")
                    values[field] = value
                    break
        return values


class _ClassEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    properties: dict[str, str | list[str]] = {}


class _MapFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jobs: dict[str, _ClassEntry] = {}


class JobMap:
    """Laravel job class (full name) -> its mapping; None for a class left to PHP."""

    def __init__(self, mappings: Mapping[str, JobMapping | None]) -> None:
        self.mappings = dict(mappings)

    def find(self, job_class: str) -> JobMapping | None:
        return self.mappings.get(job_class.lstrip("\\"))

    @classmethod
    def build(
        cls,
        adapters: Mapping[str, LaravelAdapter],
        namespaces: Iterable[str],
        map_file: str = "",
    ) -> JobMap:
        """The out-of-the-box classes, then the map file's entries over them."""
        namespaces = list(namespaces)
        mappings: dict[str, JobMapping | None] = {}
        for adapter in adapters.values():
            for short in adapter.classes:
                for namespace in namespaces:
                    name = namespace + short
                    mappings[name] = JobMapping(name, adapter, dict(adapter.fields))
        if map_file:
            for name, entry in _read(map_file).jobs.items():
                for full in _full_names(name, namespaces):
                    mappings[full] = _entry_mapping(full, entry, adapters, map_file)
        return cls(mappings)


def _read(path: str) -> _MapFile:
    try:
        with Path(path).open("rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        raise JobMapError(f"LARAVEL_JOB_MAP {path}: cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise JobMapError(f"LARAVEL_JOB_MAP {path}: not TOML ({error})") from None
    try:
        return _MapFile.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise JobMapError(f"LARAVEL_JOB_MAP {path}: {where}: {first['msg']}") from None


def _full_names(name: str, namespaces: list[str]) -> list[str]:
    name = name.lstrip("\\")
    return [name] if "\\" in name else [namespace + name for namespace in namespaces]


def _entry_mapping(
    job_class: str, entry: _ClassEntry, adapters: Mapping[str, LaravelAdapter], path: str
) -> JobMapping | None:
    if entry.kind == UNMAPPED:
        return None
    adapter = adapters.get(entry.kind)
    if adapter is None:
        kinds = ", ".join([*sorted(adapters), UNMAPPED])
        raise JobMapError(
            f"LARAVEL_JOB_MAP {path}: {job_class}: kind {entry.kind!r}; one of {kinds}"
        )
    fields = dict(adapter.fields)
    for field, names in entry.properties.items():
        if field not in fields:
            known = ", ".join(fields)
            raise JobMapError(
                f"LARAVEL_JOB_MAP {path}: {job_class}: {entry.kind} has no field {field!r}; "
                f"its fields: {known}"
            )
        listed = (names,) if isinstance(names, str) else tuple(names)
        if not listed or not all(listed):
            raise JobMapError(f"LARAVEL_JOB_MAP {path}: {job_class}: {field}: no property name")
        fields[field] = listed
    return JobMapping(job_class, adapter, fields)


def _lookup(arguments: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """The value at `path` (`a.b`: key `b` of the array or object in `a`), if present."""
    value: Any = arguments
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif hasattr(value, "properties") and part in value.properties:
            value = value.get(part)  # an object (a PHP value object) inside an array
        else:
            return False, None
    return True, value


def _holds_nul(value: Any) -> bool:
    pending = [value]
    seen: set[int] = set()  # PHP references may make an array hold itself
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\0" in item:
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
