"""Why a Laravel job's property cannot become what a Relay job needs."""

from __future__ import annotations

from typing import Any


class LaravelInputError(ValueError):
    """A job's `field` is missing or cannot be what the Relay job needs; `problem` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def php_type(value: Any) -> str:
    """What PHP's get_debug_type() would call a value read from serialize()."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str | bytes):
        return "string"
    if isinstance(value, list | dict):
        return "array"
    return str(getattr(value, "class_name", type(value).__name__))
