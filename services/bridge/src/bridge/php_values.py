"""The values PHP's `serialize()` can hold beyond JSON's: objects (with their properties'
visibility), custom-serialized objects and enum cases; and the error for input that is not
`serialize()` output. Read by `bridge.php_serialize`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Visibility = Literal["public", "protected", "private"]


class PhpProperty(NamedTuple):
    value: Any
    visibility: Visibility
    declaring_class: str | None = None  # the class that declared it, for a private one


@dataclass(eq=True)
class PhpObject:
    """An object as `serialize()` wrote it: its class and its properties by plain name."""

    class_name: str
    properties: dict[str, PhpProperty] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        found = self.properties.get(name)
        return default if found is None else found.value

    def values(self) -> dict[str, Any]:
        return {name: found.value for name, found in self.properties.items()}

    def add_serialized_property(self, mangled: str, value: Any) -> None:
        """A property under the name `serialize()` wrote: `\\0*\\0name` is protected,
        `\\0Class\\0name` private to Class, anything else public. When a parent's private
        shares a name with the object's own property, the own one wins, as it does for code
        running in the object's class."""
        if mangled.startswith("\0"):
            declaring, _, name = mangled[1:].partition("\0")
            if declaring == "*":
                found = PhpProperty(value, "protected")
            else:
                found = PhpProperty(value, "private", declaring)
        else:
            name, found = mangled, PhpProperty(value, "public")
        foreign = found.visibility == "private" and found.declaring_class != self.class_name
        if name not in self.properties or not foreign:
            self.properties[name] = found


@dataclass(frozen=True)
class PhpCustomObject:
    """A `C:` value: a class implementing Serializable wrote its own payload; kept raw."""

    class_name: str
    payload: bytes


@dataclass(frozen=True)
class PhpEnum:
    """A PHP 8.1 enum case, `E:`."""

    class_name: str
    case: str


class PhpSerializeError(ValueError):
    """The input is not complete `serialize()` output. Names the byte offset, the path of
    classes and keys that led there, and the outermost object's class and the property
    being read in it (for a job: its class and the property that is broken), when known."""

    def __init__(
        self,
        offset: int,
        problem: str,
        path: tuple[str, ...] = (),
        class_name: str | None = None,
        property_name: str | None = None,
    ) -> None:
        self.offset = offset
        self.problem = problem
        self.path = path
        self.class_name = class_name
        self.property_name = property_name
        shown = path if len(path) <= 8 else (*path[:4], "...", *path[-4:])
        where = f" in {' > '.join(shown)}" if path else ""
        super().__init__(f"bad PHP serialize data at byte {offset}{where}: {problem}")


def plain_property_name(mangled: str) -> str:
    """`\\0*\\0name` and `\\0Class\\0name` (protected, private) as `name`."""
    return mangled.rpartition("\0")[2] if mangled.startswith("\0") else mangled
