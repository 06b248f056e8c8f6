"""The handler registry: which async function handles each queue, with what payload model,
and which hook runs when one of its jobs dies."""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..envelope import Job
from ..outcomes import Outcome
from ..telemetry import metrics
from ..topology import Queue
from .context import JobContext
from .results import Death, HandlerFunc, HandlerResult, OnDead

J = TypeVar("J", bound=Job)


@dataclass(frozen=True)
class Route:
    queue: Queue
    model: type[Job]
    func: HandlerFunc
    # Called once per dead job (or part), after it is in the failed-job store or parked.
    on_dead: OnDead | None = None

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
        self._outcomes: dict[Outcome, Any] = {}

    def processed(self, outcome: Outcome) -> Any:
        counter = self._outcomes.get(outcome)
        if counter is None:
            counter = self._outcomes[outcome] = self._processed.labels(self._queue, outcome)
        return counter


class JobRouter:
    """Collects a service's handlers: `@router.handler(queue)` above each one.

    `on_dead`, when given, is awaited once for each job of the queue that dies (its last
    attempt failed, or it raised Permanent), after the failed-job store has it: the place
    for what must follow a death (a row marked failed, a count), like Laravel's `failed()`.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def handler(
        self,
        queue: Queue,
        *,
        on_dead: Callable[[J, JobContext, Death], Awaitable[None]] | None = None,
    ) -> Callable[[Callable[[J, JobContext], Awaitable[HandlerResult]]], Any]:
        def register(func: Callable[[J, JobContext], Awaitable[HandlerResult]]) -> Any:
            hints = typing.get_type_hints(func)
            params = [name for name in hints if name != "return"]
            model = hints[params[0]]
            if not (isinstance(model, type) and issubclass(model, Job)):
                raise TypeError(f"{func.__name__}: first parameter must be annotated with a Job")
            if queue.name in self.routes:
                raise ValueError(f"queue {queue.name} already has a handler")
            self.routes[queue.name] = Route(queue, model, func, on_dead)
            return func

        return register

    @property
    def queues(self) -> list[Queue]:
        return [route.queue for route in self.routes.values()]
