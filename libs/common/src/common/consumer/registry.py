"""The handler registry: which async function handles each queue, and with what payload model."""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..envelope import Job
from ..telemetry import metrics
from ..topology import Queue
from .context import JobContext

J = TypeVar("J", bound=Job)
HandlerFunc = Callable[[Any, JobContext], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    queue: Queue
    model: type[Job]
    func: HandlerFunc

    @functools.cached_property
    def meters(self) -> QueueMeters:
        return QueueMeters(self.queue.name)


class QueueMeters:
    """A queue's metric children, resolved once: `labels()` per job costs on the hot path."""

    def __init__(self, queue: str) -> None:
        self.in_flight = metrics.JOBS_IN_FLIGHT.labels(queue)
        self.runtime = metrics.JOB_RUNTIME.labels(queue)
        self.wait = metrics.JOB_WAIT.labels(queue)
        self._processed = metrics.JOBS_PROCESSED
        self._queue = queue
        self._outcomes: dict[str, Any] = {}

    def processed(self, outcome: str) -> Any:
        counter = self._outcomes.get(outcome)
        if counter is None:
            counter = self._outcomes[outcome] = self._processed.labels(self._queue, outcome)
        return counter


class JobRouter:
    """Collects a service's handlers: `@router.handler(queue)` above each one."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def handler(self, queue: Queue) -> Callable[[Callable[[J, JobContext], Awaitable[None]]], Any]:
        def register(func: Callable[[J, JobContext], Awaitable[None]]) -> Any:
            hints = typing.get_type_hints(func)
            params = [name for name in hints if name != "return"]
            model = hints[params[0]]
            if not (isinstance(model, type) and issubclass(model, Job)):
                raise TypeError(f"{func.__name__}: first parameter must be annotated with a Job")
            if queue.name in self.routes:
                raise ValueError(f"queue {queue.name} already has a handler")
            self.routes[queue.name] = Route(queue, model, func)
            return func

        return register

    @property
    def queues(self) -> list[Queue]:
        return [route.queue for route in self.routes.values()]
