"""PHP's `unserialize()`, read-only and without running any PHP: the values a Laravel job
carries, as Python values.

Why our own reader: the PyPI ports (phpserialize 1.3 and its typed fork phpserialize-typed)
reject enums (`E:`) and references (`r:`/`R:`, which Laravel payloads contain whenever one
object appears twice), recurse once per nesting level (a deep string is a RecursionError),
and report errors without an offset; phpserialize-rs ships no Linux wheel.

Values: N → None, b → bool, i → int, d → float (INF, -INF, NAN too), s → str (PHP strings
are bytes: the UTF-8 ones become str, any other stays bytes), a → list when its keys are
0..n-1 in order, else dict, O → PhpObject, C → PhpCustomObject (payload kept raw),
E → PhpEnum; r/R resolve to the value they point at (the same Python object).

A loop over an explicit stack, never recursion, bounded by `max_depth`; a length or count
that cannot fit in what is left fails before anything is allocated. Strings and integers
take a fast path without a regex; anything unusual falls back to the checked one."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .php_values import (
    PhpCustomObject,
    PhpEnum,
    PhpObject,
    PhpProperty,
    PhpSerializeError,
    plain_property_name,
)

__all__ = ["PhpCustomObject", "PhpEnum", "PhpObject", "PhpProperty", "PhpSerializeError", "loads"]

# A job nests a few levels; PHP's own limit (unserialize_max_depth) is 4096. Kept low so
# that code walking the result recursively (eloquent.with_model_ids, repr) stays far from
# Python's recursion limit.
DEFAULT_MAX_DEPTH = 128
_BOOLEAN = re.compile(rb"[01];")
_INTEGER = re.compile(rb"[+-]?[0-9]{1,19};")
_LENGTH = re.compile(rb"[0-9]{1,19}:")
_FLOAT = re.compile(rb"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|-?INF|NAN);")
_INT64 = (-(2**63), 2**63 - 1)


# Stands in a reference slot for an array still being read: PHP's arrays are values, so a
# reference into one from inside it (a cycle) has no faithful Python form.
_UNFINISHED = object()


@dataclass
class _Frame:
    start: int
    remaining: int
    slot: int
    target: PhpObject | None = None  # an object frame fills this; an array frame, `items`
    items: dict[int | str, Any] = field(default_factory=dict)
    key: int | str | None = None

    def label(self) -> str:
        return self.target.class_name if self.target is not None else "array"


def loads(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """The value `serialize()` wrote into `data`; PhpSerializeError when it is not exactly
    one complete value."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return _Reader(raw, max_depth).read()


class _Reader:
    def __init__(self, data: bytes, max_depth: int) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth
        self.slots: list[Any] = []  # PHP's numbering for r:/R:, one per value but R: and keys
        self.stack: list[_Frame] = []

    def fail(self, problem: str, offset: int | None = None) -> PhpSerializeError:
        path: list[str] = []
        for frame in self.stack:
            path.append(frame.label())
            if frame.key is not None:
                key = str(frame.key)
                path.append(plain_property_name(key) if frame.target is not None else key)
        outer = next((frame for frame in self.stack if frame.target is not None), None)
        class_name = property_name = None
        if outer is not None and outer.target is not None:
            class_name = outer.target.class_name
            if outer.key is not None:
                property_name = plain_property_name(str(outer.key))
        at = self.pos if offset is None else offset
        return PhpSerializeError(at, problem, tuple(path), class_name, property_name)

    def read(self) -> Any:
        while True:
            frame = self.stack[-1] if self.stack else None
            if frame is not None and frame.key is None:
                if frame.remaining == 0:
                    value = self.close(frame)
                else:
                    frame.key = self.read_key(frame)
                    continue
            else:
                value = self.read_value()
                if isinstance(value, _Frame):
                    if len(self.stack) >= self.max_depth:
                        raise self.fail(f"nested deeper than {self.max_depth} levels")
                    self.stack.append(value)
                    continue
            if not self.stack:
                if self.pos != len(self.data):
                    raise self.fail(f"{len(self.data) - self.pos} bytes after the value")
                return value
            parent = self.stack[-1]
            assert parent.key is not None
            parent.items[parent.key] = value
            parent.key = None
            parent.remaining -= 1

    def expect(self, token: bytes, what: str) -> None:
        if not self.data.startswith(token, self.pos):
            raise self.fail(f"expected {what}, found {self.peek()}")
        self.pos += len(token)

    def peek(self) -> str:
        if self.pos >= len(self.data):
            return "the end of the input"
        return repr(self.data[self.pos : self.pos + 12].decode("utf-8", "replace"))

    def match(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        found = pattern.match(self.data, self.pos)
        if found is None:
            raise self.fail(f"expected {what}, found {self.peek()}")
        self.pos = found.end()
        return found.group()[:-1]

    def read_int(self) -> int:
        start = self.pos
        end = self.data.find(b";", start, start + 21)
        text = self.data[start:end] if end > start else b""
        # The usual case without a regex: at most 19 digits, as PHP writes them.
        digits = text[1:] if text[:1] == b"-" else text
        if digits.isdigit() and len(digits) <= 19:
            self.pos = end + 1
        else:
            text = self.match(_INTEGER, "an integer and ';'")
        value = int(text)
        if not _INT64[0] <= value <= _INT64[1]:
            raise self.fail(f"integer {value} is out of PHP's 64-bit range", start)
        return value

    def read_length(self, unit: str) -> int:
        return int(self.match(_LENGTH, f"a {unit} and ':'"))

    def read_bytes(self) -> bytes:
        """`N:"..."` with N in bytes, the quotes checked on both sides."""
        data, start = self.data, self.pos
        colon = data.find(b':"', start, start + 21)  # the usual case first, without a regex
        if colon > start and data[start:colon].isdigit():
            end = colon + 2 + int(data[start:colon])
            if end < len(data) and data[end] == 0x22:
                self.pos = end + 1
                return data[colon + 2 : end]
        length = self.read_length("length in bytes")
        self.expect(b'"', "'\"' opening the string")
        if length > len(self.data) - self.pos:
            raise self.fail(
                f"a string of {length} bytes runs past the end "
                f"({len(self.data) - self.pos} bytes left)"
            )
        chunk = self.data[self.pos : self.pos + length]
        self.pos += length
        self.expect(b'"', f"'\"' closing the string of {length} bytes")
        return chunk

    def read_name(self) -> str:
        name = self.read_bytes()
        try:
            return name.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("a class name that is not UTF-8", self.pos - len(name) - 1) from None

    def read_string(self) -> str | bytes:
        chunk = self.read_bytes()
        self.expect(b";", "';' after the string")
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            return chunk  # a binary PHP string (an image, a hash): kept as bytes

    def read_count(self, opening: bytes) -> int:
        count = self.read_length("count")
        self.expect(opening, "'{' opening the members")
        # Each member is at least 4 bytes ("i:0;N;" is 6): refuse a count that cannot fit.
        if count * 4 > len(self.data) - self.pos:
            raise self.fail(
                f"{count} members cannot fit in the {len(self.data) - self.pos} bytes left"
            )
        return count

    def new_slot(self, value: Any) -> int:
        self.slots.append(value)
        return len(self.slots) - 1

    def read_value(self) -> Any:
        start = self.pos
        kind = self.data[self.pos : self.pos + 2]
        if kind in (b"r:", b"R:"):
            self.pos += 2
            return self.read_reference(kind == b"r:", start)
        self.pos += 2
        if kind == b"N;":
            value: Any = None
        elif kind == b"b:":
            flag = self.match(_BOOLEAN, "0 or 1 and ';'")
            value = flag == b"1"
        elif kind == b"i:":
            value = self.read_int()
        elif kind == b"d:":
            text = self.match(_FLOAT, "a float and ';'")
            value = math.nan if text == b"NAN" else float(text)
        elif kind == b"s:":
            value = self.read_string()
        elif kind == b"a:":
            count = self.read_count(b"{")
            return _Frame(start, count, self.new_slot(_UNFINISHED))
        elif kind == b"O:":
            target = PhpObject(self.read_name())
            self.expect(b":", "':' after the class name")
            count = self.read_count(b"{")
            return _Frame(start, count, self.new_slot(target), target=target)
        elif kind == b"C:":
            class_name = self.read_name()
            self.expect(b":", "':' after the class name")
            length = self.read_length("payload length in bytes")
            self.expect(b"{", "'{' opening the payload")
            if length > len(self.data) - self.pos:
                raise self.fail(f"a payload of {length} bytes runs past the end")
            value = PhpCustomObject(class_name, self.data[self.pos : self.pos + length])
            self.pos += length
            self.expect(b"}", "'}' closing the payload")
        elif kind == b"E:":
            case = self.read_name()
            self.expect(b";", "';' after the enum case")
            class_name, colon, name = case.partition(":")
            if not colon or not class_name or not name:
                raise self.fail(f"enum value {case!r} is not 'Class:Case'", start)
            value = PhpEnum(class_name, name)
        else:
            self.pos = start
            raise self.fail(
                f"expected a value (N, b, i, d, s, a, O, C, E, r, R), found {self.peek()}"
            )
        self.new_slot(value)
        return value

    def read_reference(self, object_only: bool, start: int) -> Any:
        number = self.read_int()
        if not 1 <= number <= len(self.slots):
            raise self.fail(
                f"reference to value {number}, but only {len(self.slots)} were read", start
            )
        value = self.slots[number - 1]
        if value is _UNFINISHED:
            raise self.fail(f"reference to array {number} from inside itself (a cycle)", start)
        if object_only:
            # Enum cases are objects too (singletons: a repeated case is written as r:).
            if not isinstance(value, PhpObject | PhpEnum | PhpCustomObject):
                raise self.fail(f"object reference r:{number} points at a non-object", start)
            self.new_slot(value)  # r: takes a slot of its own, R: does not (PHP's numbering)
        return value

    def read_key(self, frame: _Frame) -> int | str:
        kind = self.data[self.pos : self.pos + 2]
        self.pos += 2
        if kind == b"i:":
            return self.read_int()
        if kind == b"s:":
            key = self.read_string()
            if isinstance(key, bytes):
                raise self.fail("a key that is not UTF-8", self.pos - len(key) - 3)
            return key
        self.pos -= 2
        if kind.startswith(b"}"):
            raise self.fail(f"{frame.label()} ends after fewer members than it announced")
        raise self.fail(f"expected a key (i or s), found {self.peek()}")

    def close(self, frame: _Frame) -> Any:
        self.expect(b"}", f"'}}' closing the {frame.label()} opened at byte {frame.start}")
        self.stack.pop()
        if frame.target is not None:
            for key, value in frame.items.items():
                frame.target.add_serialized_property(str(key), value)
            return frame.target
        items = frame.items
        array: Any = list(items.values()) if list(items) == list(range(len(items))) else items
        self.slots[frame.slot] = array
        return array
