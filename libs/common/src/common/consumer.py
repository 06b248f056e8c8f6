"""The consumer runtime: validated payloads in, acks after success, retries through tiers.

A handler is a plain async function of (payload model, JobContext). The runtime owns
acks, timeouts, retries, the failed-job store, idempotency, traces, logs and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
import traceback
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aio_pika
import asyncpg
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from opentelemetry.trace import Status, StatusCode
from pamqp.commands import Basic
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import metrics, tracing
from .envelope import ATTEMPT, ENQUEUED_AT, Envelope, Job, enqueued_stamp, job_type
from .errors import Permanent, RetryLater
from .publisher import declare
from .runtime import Runtime
from .settings import RuntimeSettings
from .topology import Queue, RetryTier

log = logging.getLogger("relay.jobs")

J = TypeVar("J", bound=Job)
HandlerFunc = Callable[[Any, "JobContext"], Awaitable[None]]

# A throttle shorter than this waits in the worker; a longer one parks the job in a tier.
_SHORT_WAIT = 1.0
# Infrastructure trouble is not the job's fault: wait for it without spending an attempt.
_INFRA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # Contention between concurrent jobs: Postgres aborted one of them, not the job's fault.
    asyncpg.exceptions.DeadlockDetectedError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionRefusedError,
)
_INFRA_WAIT = 5.0
# Finished deliveries are acked together at most this long after the first of them
# finished: one frame (and one task) per window instead of one per job. A crash inside
# the window redelivers those jobs, which idempotent handlers absorb.
_ACK_WINDOW = 0.01


class AlreadyProcessed(Exception):
    """This message's effect is already committed; ack it and move on."""


@dataclass(frozen=True)
class Route:
    queue: Queue
    model: type[Job]
    func: HandlerFunc

    @functools.cached_property
    def meters(self) -> _Meters:
        return _Meters(self.queue.name)


class _Meters:
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
    """Collects a service's handlers: `@router.handler(topology.SMS.queues[0])`."""

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


@dataclass
class JobContext:
    """What a handler may use: the runtime's connections and this delivery's envelope."""

    runtime: Runtime
    queue: Queue
    envelope: Envelope

    @functools.cached_property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose lines carry the job, message id and attempt (built on first use)."""
        return logging.LoggerAdapter(
            logging.getLogger(f"relay.{self.queue.name}"),
            {
                "job": self.envelope.job_type,
                "message_id": self.envelope.message_id,
                "attempt": self.envelope.attempt,
            },
        )

    @property
    def attempt(self) -> int:
        return self.envelope.attempt

    @property
    def message_id(self) -> str:
        return self.envelope.message_id

    @property
    def user_id(self) -> str | None:
        return self.envelope.user_id

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A DB transaction that also records this message as processed.

        The record is inserted first: a concurrent redelivery blocks on its key until
        this transaction ends, then sees it and skips (AlreadyProcessed), so the
        effect happens once. Rolled back with the effect if the handler fails.
        """
        async with self.runtime.pool.acquire() as connection, connection.transaction():
            inserted = await connection.fetchval(
                """
                INSERT INTO runtime.processed_messages (queue, message_id) VALUES ($1, $2)
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                self.queue.name,
                self.envelope.message_id,
            )
            if inserted is None:
                raise AlreadyProcessed(self.envelope.message_id)
            yield connection

    # A job that carries several parts (a batch of campaign messages) may settle each part
    # on its own: retry one, bury another, and let the runtime ack the whole.

    @property
    def max_attempts(self) -> int:
        return max_attempts(self.queue, self.runtime.settings)

    def retry_delay(self, attempt: int) -> float:
        """How long the runtime waits before retrying a job whose attempt `attempt` failed."""
        return retry_delay(self.queue, self.runtime.settings, attempt)

    async def defer(
        self,
        part: Job,
        *,
        message_id: str,
        delay: float,
        attempt: int,
        error: str | None = None,
    ) -> None:
        """Publish `part` back to this queue after `delay` (its tier; 0: straight to the
        queue), as attempt `attempt`.

        Confirmed before this returns: once the handler returns and the whole is acked,
        the part is in the broker.
        """
        properties = self._part_envelope(part, message_id, attempt).properties()
        target = self.queue.name
        if delay > 0:
            tier = tier_for(self.queue, self.runtime.settings, delay)
            properties.headers = _tier_headers(properties.headers or {}, tier, attempt, error)
            target = tier.name
        body = part.model_dump_json().encode()
        await self.runtime.publisher.publish_body("", target, body, properties)

    async def bury(self, part: Job, *, message_id: str, error: str, attempts: int) -> None:
        """Record `part` in the failed-job store of this queue; a retry republishes it here."""
        await self.runtime.failed_jobs.add(
            queue=self.queue.name,
            envelope=self._part_envelope(part, message_id, attempts),
            body=part.model_dump_json().encode(),
            error=error,
            traceback="",
            attempts=attempts,
        )

    def _part_envelope(self, part: Job, message_id: str, attempt: int) -> Envelope:
        headers = {
            key: value
            for key, value in self.envelope.headers.items()
            if key in ("traceparent", "tracestate")
        }
        return Envelope(
            message_id=message_id,
            job_type=job_type(type(part)),
            correlation_id=self.envelope.correlation_id,
            attempt=attempt,
            user_id=self.envelope.user_id,
            headers=headers,
        )


def max_attempts(queue: Queue, settings: RuntimeSettings) -> int:
    return queue.max_attempts or settings.job_max_attempts


def retry_delay(queue: Queue, settings: RuntimeSettings, attempt: int) -> float:
    delays = queue.retry_delays or settings.job_retry_delays
    return delays[min(attempt, len(delays)) - 1]


def tier_for(queue: Queue, settings: RuntimeSettings, delay: float) -> RetryTier:
    """The shortest of `queue`'s tiers that holds a job at least `delay` (else the longest)."""
    tiers = queue.tiers(queue.retry_delays or settings.job_retry_delays)
    return next((t for t in tiers if t.delay >= delay), tiers[-1])


def _tier_headers(
    headers: dict[str, Any], tier: RetryTier, attempt: int, error: str | None
) -> dict[str, Any]:
    """`headers` for a copy parked in `tier`: its attempt, when it is due, why it waits."""
    headers = dict(headers)
    headers[ATTEMPT] = attempt
    headers[ENQUEUED_AT] = enqueued_stamp(time.time() + tier.delay)
    if error:
        headers["x-last-error"] = error[:500]
    return headers


@dataclass
class JobOutcome:
    queue: str
    job_type: str
    message_id: str
    attempt: int
    outcome: str  # done | retried | delayed | failed | duplicate
    duration: float
    wait: float | None
    error: str | None = None
    user_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    finished_at: float = field(default_factory=time.time)


JobObserver = Callable[[JobOutcome], Awaitable[None]]


class _Acks:
    """Acknowledges one consumer's finished deliveries with one frame per short window.

    `basic.ack` with `multiple=True` settles every delivery up to a tag. Handlers finish
    out of order, so only the finished prefix of outstanding tags is acked; a delivery
    still running holds back the ones after it until it finishes. One frame per batch
    instead of one per message saves a syscall and broker work per job.
    """

    def __init__(self) -> None:
        self._channel: Any = None
        self._outstanding: dict[int, bool] = {}  # delivery tag -> finished; tag order
        self._flush_scheduled = False
        self._sending: set[asyncio.Future[None]] = set()

    def delivered(self, message: AbstractIncomingMessage) -> None:
        channel = message.channel
        if channel is not self._channel:
            # A new channel after a reconnect: the old tags are void (redelivered).
            self._channel = channel
            self._outstanding.clear()
        if message.delivery_tag is not None:
            self._outstanding[message.delivery_tag] = False

    def finished(self, message: AbstractIncomingMessage) -> None:
        tag = message.delivery_tag
        if tag in self._outstanding:
            self._outstanding[tag] = True
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(_ACK_WINDOW, self._flush)

    def forget(self, message: AbstractIncomingMessage) -> None:
        """The delivery was nacked on its own; it no longer holds back the others."""
        if message.delivery_tag is not None:
            self._outstanding[message.delivery_tag] = True

    def _flush(self) -> None:
        self._flush_scheduled = False
        highest: int | None = None
        for tag, finished in self._outstanding.items():
            if not finished:
                break
            highest = tag
        if highest is None or self._channel is None:
            return
        while self._outstanding:
            tag = next(iter(self._outstanding))
            if tag > highest:
                break
            del self._outstanding[tag]
        sending = asyncio.ensure_future(self._channel.basic_ack(highest, multiple=True))
        self._sending.add(sending)
        sending.add_done_callback(self._sent)

    def _sent(self, sending: asyncio.Future[None]) -> None:
        self._sending.discard(sending)
        if not sending.cancelled() and sending.exception() is not None:
            # The channel closed: the broker redelivers those messages; handlers are
            # idempotent, so that costs time, not correctness.
            log.warning("ack not delivered", extra={"error": repr(sending.exception())})

    async def drain(self) -> None:
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


class Worker:
    """Consumes the router's queues, one channel (and prefetch) per queue."""

    def __init__(
        self,
        runtime: Runtime,
        router: JobRouter,
        concurrency: int | None = None,
        prefetch: Mapping[str, int] | None = None,
    ) -> None:
        self.runtime = runtime
        self.router = router
        self.settings = runtime.settings
        self.concurrency = concurrency or self.settings.worker_max_concurrency
        # Fixed prefetch per queue name (e.g. a big one for bulk sends); others: concurrency.
        self._fixed_prefetch = dict(prefetch or {})
        self.observers: list[JobObserver] = []
        self._connection: AbstractRobustConnection | None = None
        self._channels: dict[str, AbstractRobustChannel] = {}
        self._consumers: dict[str, tuple[aio_pika.abc.AbstractQueue, str]] = {}
        self._in_flight = 0
        # Queue name -> its acks. Keyed by queue, not consumer: delivery tags belong to the
        # channel, which autoscaling shares between an old and a new consumer.
        self._acks: dict[str, _Acks] = {}
        self._in_flight_by_queue: dict[str, int] = {}
        self.prefetch: dict[str, int] = {}
        self._probe: AbstractRobustChannel | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def start(self) -> None:
        """Connect (waiting for RabbitMQ), declare the topology and start consuming."""
        self._connection = await _connect_when_ready(
            self.settings.rabbitmq_url, self.runtime.service
        )
        setup = await self._connection.channel()
        await declare(setup, self.router.queues, self.settings)
        await setup.close()
        for route in self.router.routes.values():
            channel = await self._connection.channel()
            # Before consuming: a per-consumer prefetch applies to consumers created after it.
            prefetch = self._fixed_prefetch.get(route.queue.name, self.concurrency)
            await channel.set_qos(prefetch_count=prefetch)
            # declare_queue (not get_queue): aio-pika re-consumes only declared queues
            # when it restores the channel after a reconnect.
            queue = await channel.declare_queue(
                route.queue.name,
                durable=True,
                arguments=route.queue.arguments(self.settings.rabbitmq_queue_type),
            )
            tag = await queue.consume(self._callback(route))
            self._channels[route.queue.name] = channel
            self._consumers[route.queue.name] = (queue, tag)
            self.prefetch[route.queue.name] = prefetch
            metrics.WORKER_CONCURRENCY.labels(route.queue.name).set(prefetch)
        log.info(
            "worker consuming",
            extra={"queues": list(self.router.routes), "prefetch": self.concurrency},
        )

    async def set_concurrency(self, queue_name: str, prefetch: int) -> None:
        """Change how many jobs of `queue_name` may run at once (autoscaling)."""
        if queue_name in self._fixed_prefetch:
            return  # fixed by the service (run_worker's `prefetch`)
        if self._stopping or queue_name not in self._consumers:
            return
        channel = self._channels[queue_name]
        await channel.set_qos(prefetch_count=prefetch)
        # RabbitMQ applies a (per-consumer) basic.qos only to consumers created after
        # it, and quorum queues ignore the channel-wide kind: so start a new consumer
        # with the new prefetch, then cancel the old one. Its unacked deliveries stay
        # on the channel and are acked there as their jobs finish.
        queue, old_tag = self._consumers[queue_name]
        tag = await queue.consume(self._callback(self.router.routes[queue_name]))
        self._consumers[queue_name] = (queue, tag)
        await queue.cancel(old_tag)
        self.prefetch[queue_name] = prefetch
        metrics.WORKER_CONCURRENCY.labels(queue_name).set(prefetch)

    def in_flight_of(self, queue_name: str) -> int:
        return self._in_flight_by_queue.get(queue_name, 0)

    async def backlog(self, queue_name: str) -> int:
        """Ready messages of `queue_name` (a passive declare on a channel of its own)."""
        if self._probe is None or self._probe.is_closed:
            assert self._connection is not None
            self._probe = await self._connection.channel()
        # robust=False: a robust channel answers a repeated passive declare from its cache.
        declared = await self._probe.declare_queue(queue_name, passive=True, robust=False)
        return int(declared.declaration_result.message_count or 0)

    async def stop(self, grace: float | None = None) -> None:
        """Stop consuming, let in-flight jobs finish within `grace`, then close.

        Whatever is still unacked when the connection closes goes back to its queue.
        """
        self._stopping = True
        for queue, tag in self._consumers.values():
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        grace = self.settings.worker_grace_seconds if grace is None else grace
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning(
                "grace period over; unfinished jobs return to their queues",
                extra={"in_flight": self._in_flight},
            )
        for acks in self._acks.values():
            await acks.drain()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()

    def _acks_of(self, queue: str) -> _Acks:
        acks = self._acks.get(queue)
        if acks is None:
            acks = self._acks[queue] = _Acks()
        return acks

    def _finish(self, queue: str, message: AbstractIncomingMessage) -> None:
        """Ack `message` (batched: sent with the others finished within the ack window)."""
        self._acks_of(queue).finished(message)

    def _callback(self, route: Route) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            self._acks_of(route.queue.name).delivered(message)  # before any await: tag order
            self._in_flight += 1
            name = route.queue.name
            self._in_flight_by_queue[name] = self._in_flight_by_queue.get(name, 0) + 1
            self._idle.clear()
            route.meters.in_flight.inc()
            try:
                await self._process(route, message)
            finally:
                self._in_flight -= 1
                self._in_flight_by_queue[name] -= 1
                route.meters.in_flight.dec()
                if self._in_flight == 0:
                    self._idle.set()

        return on_message

    async def _process(self, route: Route, message: AbstractIncomingMessage) -> None:
        queue = route.queue
        envelope = Envelope.from_message(message)
        started = time.monotonic()
        enqueued = envelope.enqueued_at()
        wait = max(0.0, time.time() - enqueued) if enqueued else None
        outcome = "done"
        error: str | None = None
        try:
            try:
                job = route.model.model_validate_json(message.body)
            except (ValidationError, ValueError) as invalid:
                outcome, error = "failed", f"invalid payload: {invalid}"
                await self._bury(queue, message, envelope, error, "")
                return
            with tracing.consumer_span(queue.name, envelope) as span:
                outcome, error = await self._run(route, job, message, envelope)
                if span is not None and outcome in ("failed", "retried"):
                    span.set_status(Status(StatusCode.ERROR, error))
        except Exception as unexpected:
            # Storing the failure or publishing the retry failed (database or broker
            # trouble): hand the message back to the queue and try again later.
            outcome, error = "requeued", repr(unexpected)
            log.exception("could not settle message; requeueing", extra={"queue": queue.name})
            await asyncio.sleep(1)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            self._acks_of(queue.name).forget(message)
        finally:
            duration = time.monotonic() - started
            route.meters.processed(outcome).inc()
            route.meters.runtime.observe(duration)
            if wait is not None:
                route.meters.wait.observe(wait)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "job %s",
                    outcome,
                    extra={
                        "job": envelope.job_type,
                        "queue": queue.name,
                        "message_id": envelope.message_id,
                        "attempt": envelope.attempt,
                        "duration_ms": round(duration * 1000, 2),
                        "outcome": outcome,
                        **({"error": error} if error else {}),
                    },
                )
            if self.observers:
                record = JobOutcome(
                    queue=queue.name,
                    job_type=envelope.job_type,
                    message_id=envelope.message_id,
                    attempt=envelope.attempt,
                    outcome=outcome,
                    duration=duration,
                    wait=wait,
                    error=error,
                    user_id=envelope.user_id,
                    headers=envelope.headers,
                    body=message.body,
                )
                for observer in self.observers:
                    with contextlib.suppress(Exception):
                        await observer(record)

    async def _run(
        self, route: Route, job: Job, message: AbstractIncomingMessage, envelope: Envelope
    ) -> tuple[str, str | None]:
        queue = route.queue
        timeout = queue.timeout or self.settings.job_timeout
        context = JobContext(self.runtime, queue, envelope)
        while True:
            try:
                async with asyncio.timeout(timeout):
                    await route.func(job, context)
            except AlreadyProcessed:
                self._finish(queue.name, message)
                return "duplicate", None
            except RetryLater as later:
                if later.delay <= _SHORT_WAIT and not self._stopping:
                    await asyncio.sleep(later.delay)
                    continue
                await self._park(queue, message, envelope, later.delay, envelope.attempt)
                return "delayed", later.reason
            except _INFRA_ERRORS as trouble:
                await self._park(queue, message, envelope, _INFRA_WAIT, envelope.attempt)
                return "delayed", f"infrastructure unavailable: {trouble!r}"
            except Permanent as permanent:
                error = f"{type(permanent).__name__}: {permanent}"
                await self._bury(queue, message, envelope, error, traceback.format_exc())
                return "failed", error
            except TimeoutError:
                error = f"timed out after {timeout:g}s"
                return await self._fail_attempt(
                    queue, message, envelope, error, traceback.format_exc()
                )
            except Exception as failure:
                error = f"{type(failure).__name__}: {failure}"
                return await self._fail_attempt(
                    queue, message, envelope, error, traceback.format_exc()
                )
            self._finish(queue.name, message)
            return "done", None

    async def _fail_attempt(
        self,
        queue: Queue,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        error: str,
        trace: str,
    ) -> tuple[str, str | None]:
        if envelope.attempt >= max_attempts(queue, self.settings):
            await self._bury(queue, message, envelope, error, trace)
            return "failed", error
        delay = retry_delay(queue, self.settings, envelope.attempt)
        await self._send_to_tier(message, RetryTier(queue.name, delay), envelope.attempt + 1, error)
        return "retried", error

    async def _park(
        self,
        queue: Queue,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        delay: float,
        attempt: int,
    ) -> None:
        await self._send_to_tier(message, tier_for(queue, self.settings, delay), attempt, None)

    async def _send_to_tier(
        self, message: AbstractIncomingMessage, tier: RetryTier, attempt: int, error: str | None
    ) -> None:
        """Publish a copy to the tier (confirmed) before acking the original: never lost."""
        headers = _tier_headers(message.headers or {}, tier, attempt, error)
        copy = Basic.Properties(
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            message_type=message.type,
            content_type=message.content_type,
            delivery_mode=int(aio_pika.DeliveryMode.PERSISTENT),
            timestamp=message.timestamp,
            headers=headers,
        )
        await self.runtime.publisher.publish_body("", tier.name, message.body, copy)
        self._finish(tier.target, message)

    async def _bury(
        self,
        queue: Queue,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        error: str,
        trace: str,
    ) -> None:
        await self.runtime.failed_jobs.add(
            queue=queue.name,
            envelope=envelope,
            body=message.body,
            error=error,
            traceback=trace,
            attempts=envelope.attempt,
        )
        self._finish(queue.name, message)


async def _connect_when_ready(url: str, service: str) -> AbstractRobustConnection:
    delay = 0.2
    while True:
        try:
            return await aio_pika.connect_robust(
                url, client_properties={"connection_name": f"relay-{service}-worker"}
            )
        except (OSError, aio_pika.exceptions.AMQPError) as error:
            log.warning("waiting for rabbitmq", extra={"error": repr(error)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def run_worker(
    runtime: Runtime,
    router: JobRouter,
    *,
    extra: Callable[[Worker], Awaitable[None]] | None = None,
    prefetch: Mapping[str, int] | None = None,
) -> None:
    """Run `router`'s handlers until SIGTERM or SIGINT, then drain and close.

    `prefetch` fixes the prefetch of the named queues (queue name -> count).
    """
    from .autoscale import Autoscaler
    from .lifecycle import LifecycleRecorder

    settings = runtime.settings
    worker = Worker(
        runtime,
        router,
        prefetch=prefetch,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if runtime.settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(runtime.settings.metrics_port)
    await worker.start()
    # Dashboard records and heartbeats, written off the hot path (common.lifecycle).
    recorder = LifecycleRecorder(
        runtime.redis,
        settings,
        service=runtime.service,
        status=lambda: (dict(worker.prefetch), worker.in_flight),
    )
    worker.observers.append(recorder.observe)
    recorder.start()
    autoscaler = Autoscaler(
        worker,
        settings.worker_min_concurrency,
        settings.worker_max_concurrency,
        settings.autoscale_interval,
        settings.autoscale_cooldown,
    )
    if settings.worker_autoscale:
        autoscaler.start()
    if extra is not None:
        await extra(worker)
    await stop.wait()
    log.info("stopping: draining in-flight jobs", extra={"in_flight": worker.in_flight})
    await autoscaler.stop()
    await worker.stop()
    await recorder.stop()
    await runtime.close()
