"""Which schemas exist, where their Alembic histories are, and which revision is the head of
each, read from the revision files themselves (no Alembic import)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

ENTRY_POINTS = "relay.migrations"

_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


@dataclass(frozen=True)
class Schema:
    """A Postgres schema and the folder of its Alembic history (env.py, versions/)."""

    name: str
    location: Path

    @cached_property
    def revisions(self) -> frozenset[str]:
        """Every revision id of this history."""
        return frozenset(self._graph())

    @cached_property
    def heads(self) -> frozenset[str]:
        """The revisions no other one builds on: what `alembic upgrade head` reaches."""
        graph = self._graph()
        below = {parent for parents in graph.values() for parent in parents}
        return frozenset(set(graph) - below)

    def _graph(self) -> dict[str, tuple[str, ...]]:
        graph: dict[str, tuple[str, ...]] = {}
        for path in (self.location / "versions").glob("*.py"):
            text = path.read_text()
            revision = _REVISION.search(text)
            if revision is None:
                continue
            down = _DOWN.search(text)
            graph[revision.group(1)] = tuple(_QUOTED.findall(down.group(1))) if down else ()
        return graph


RUNTIME = Schema("runtime", Path(str(resources.files("common.migrations") / "runtime")))


def installed_schemas() -> tuple[Schema, ...]:
    """The runtime's schema, then every installed package's, by name.

    Each process brings all of them up to date, so the gateway can take synchronous writes
    (the critical path of a domain's router) before that domain's worker has started; only
    a domain's own code reads or writes its schema.
    """
    found = [
        Schema(entry.name, Path(str(resources.files(entry.value))))
        for entry in entry_points(group=ENTRY_POINTS)
    ]
    return (RUNTIME, *sorted(found, key=lambda schema: schema.name))
