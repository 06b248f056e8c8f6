"""Eloquent models inside a Laravel job. `SerializesModels` never serializes a model: it
writes an `Illuminate\\Contracts\\Database\\ModelIdentifier` (public `class`, `id`,
`relations`, `connection`) that the PHP worker reloads from its database; for a collection
of models `id` is the list of keys. The bridge has no access to that database, so a model
stands for its key (../shared/CONTRACT.md, "Laravel bridge")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .php_values import PhpObject

__all__ = ["MODEL_IDENTIFIER", "ModelRef", "model_ref", "with_model_ids"]

MODEL_IDENTIFIER = "Illuminate\\Contracts\\Database\\ModelIdentifier"


@dataclass(frozen=True)
class ModelRef:
    model_class: str
    id: Any  # the key (int or str), or a list of keys for a collection
    relations: tuple[str, ...]
    connection: str | None

    @property
    def is_collection(self) -> bool:
        return isinstance(self.id, list)


def model_ref(value: Any) -> ModelRef | None:
    """The model `value` identifies, or None when it is not a ModelIdentifier."""
    if not isinstance(value, PhpObject) or value.class_name != MODEL_IDENTIFIER:
        return None
    relations = value.get("relations") or []
    connection = value.get("connection")
    return ModelRef(
        model_class=str(value.get("class") or ""),
        id=value.get("id"),
        relations=tuple(str(name) for name in relations),
        connection=connection if isinstance(connection, str) else None,
    )


def with_model_ids(value: Any) -> Any:
    """`value` with every ModelIdentifier inside it (at any depth) replaced by its key.
    Objects are copied, never changed; a structure that references itself (PHP's `r:`)
    keeps its shape instead of looping."""
    done: dict[int, Any] = {}

    def walk(item: Any) -> Any:
        ref = model_ref(item)
        if ref is not None:
            return ref.id
        if not isinstance(item, list | dict | PhpObject):
            return item
        if id(item) in done:
            return done[id(item)]
        if isinstance(item, list):
            copied_list: list[Any] = []
            done[id(item)] = copied_list
            copied_list.extend(walk(element) for element in item)
            return copied_list
        if isinstance(item, dict):
            copied_dict: dict[Any, Any] = {}
            done[id(item)] = copied_dict
            copied_dict.update((key, walk(element)) for key, element in item.items())
            return copied_dict
        copied = PhpObject(item.class_name)
        done[id(item)] = copied
        for name, found in item.properties.items():
            copied.properties[name] = found._replace(value=walk(found.value))
        return copied

    return walk(value)
