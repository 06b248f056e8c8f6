"""Runtime settings read from the environment (names fixed by CONTRACT.md)."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _parse_delays(value: object) -> object:
    if isinstance(value, str):
        return [float(part) for part in value.split(",") if part.strip()]
    return value


class RuntimeSettings(BaseSettings):
    """Settings every process reads: connections, job policy, observability."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    rabbitmq_url: str = "amqp://guest:guest@localhost:5672/"
    # Every node of a cluster, comma separated, in any order; takes precedence over
    # RABBITMQ_URL. A process connects to any reachable node and moves on when it drops.
    rabbitmq_urls: Annotated[list[str], NoDecode] = []
    # Initial members of each quorum queue (retry tiers included); 0 = the broker's default.
    rabbitmq_quorum_size: int = Field(default=0, ge=0)
    rabbitmq_management_url: str = ""
    database_url: str = "postgresql://postgres:postgres@localhost:5432/postgres"
    redis_url: str = "redis://localhost:6379/0"
    redis_key_prefix: str = "relay:"

    job_max_attempts: int = Field(default=3, ge=1)
    job_retry_delays: Annotated[list[float], NoDecode] = [10.0, 30.0, 60.0]
    job_timeout: float = Field(default=60.0, gt=0)

    worker_min_concurrency: int = Field(default=2, ge=1)
    worker_max_concurrency: int = Field(default=20, ge=1)
    worker_grace_seconds: float = 30.0
    publish_timeout: float = 5.0
    publish_max_in_flight: int = 1000
    rabbitmq_queue_type: Literal["quorum", "classic"] = "quorum"

    otel_traces_exporter: Literal["otlp", "console", "none", "memory"] = "none"
    otel_service_name: str = ""
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    metrics_port: int = 0
    # Sentry DSN: unhandled errors and dead jobs are reported (scrubbed); empty = no Sentry.
    sentry_dsn: str = ""

    # Ops (docs/ops.md): autoscaled prefetch, dashboard lifecycle records, alerts.
    worker_autoscale: bool = True
    autoscale_interval: float = Field(default=2.0, gt=0)
    autoscale_cooldown: float = Field(default=10.0, ge=0)
    lifecycle_recent_seconds: int = Field(default=3600, ge=60)
    lifecycle_failed_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    lifecycle_buffer: int = Field(default=10_000, ge=1)
    lifecycle_flush_interval: float = Field(default=0.5, gt=0)
    # Successful jobs kept as individual records per worker and second; the rest only count
    # in the charts. Failed, retried and delayed attempts are always kept.
    lifecycle_recent_per_second: int = Field(default=500, ge=0)
    # Jobs of a monitored tag (pinned on the dashboard) are kept this long, like Horizon's
    # `trim.monitored`.
    lifecycle_monitored_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # Job types (payload class names) left out of the recent-jobs list and its count, like
    # Horizon's `silenced`; still in the metrics and charts, and listed when they fail.
    silenced_jobs: Annotated[list[str], NoDecode] = []
    alert_wait_seconds: float = Field(default=60.0, gt=0)
    alert_webhook_url: str = ""
    # Slack incoming webhook (its own format), and e-mail addresses (comma separated, sent
    # through SMTP_HOST / SMTP_PORT / MAIL_FROM) that get every alert too.
    alert_slack_webhook_url: str = ""
    alert_email_to: Annotated[list[str], NoDecode] = []
    alert_cooldown: float = Field(default=300.0, ge=0)
    alert_check_interval: float = Field(default=15.0, gt=0)

    @field_validator("rabbitmq_urls", mode="before")
    @classmethod
    def split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # Dead messages (docs/ops.md, "Parked messages"): how long one waits, unacked and
    # retrying with backoff, for an unreachable failed-job store before it is parked on
    # `<queue>.parked`; how often each worker moves parked messages into the store.
    park_after_seconds: float = Field(default=60.0, ge=0)
    park_drain_seconds: float = Field(default=30.0, gt=0)
    # The outbox (docs/ops.md): a staged job not confirmed after OUTBOX_SWEEP_AFTER seconds
    # is published by the sweeper, which looks every OUTBOX_SWEEP_INTERVAL seconds.
    outbox_sweep_after: float = Field(default=30.0, gt=0)
    outbox_sweep_interval: float = Field(default=5.0, gt=0)

    @field_validator("job_retry_delays", mode="before")
    @classmethod
    def split_delays(cls, value: object) -> object:
        return _parse_delays(value)

    @field_validator("silenced_jobs", "alert_email_to", mode="before")
    @classmethod
    def split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("job_retry_delays")
    @classmethod
    def delays_positive(cls, value: list[float]) -> list[float]:
        if not value or any(delay <= 0 for delay in value):
            raise ValueError("JOB_RETRY_DELAYS needs one or more positive numbers, e.g. 10,30,60")
        return value

    @cached_property
    def broker_urls(self) -> list[str]:
        """The nodes to connect to: RABBITMQ_URLS, else RABBITMQ_URL."""
        return list(self.rabbitmq_urls) or [self.rabbitmq_url]

    @cached_property
    def management_url(self) -> str:
        """The management API base URL, derived from the first broker URL unless given."""
        if self.rabbitmq_management_url:
            return self.rabbitmq_management_url.rstrip("/")
        amqp = urlsplit(self.broker_urls[0])
        user = amqp.username or "guest"
        password = amqp.password or "guest"
        return f"http://{user}:{password}@{amqp.hostname or 'localhost'}:15672"

    @cached_property
    def vhost(self) -> str:
        """The virtual host named in RABBITMQ_URL ("/" when none)."""
        path = urlsplit(self.broker_urls[0]).path
        return path[1:] if len(path) > 1 else "/"
