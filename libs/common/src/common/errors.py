"""The error vocabulary shared by handlers, the runtime and the gateway."""

from __future__ import annotations


class RelayError(Exception):
    """Base class for errors the platform raises on purpose."""


class Permanent(RelayError):
    """The job can never succeed as it is: fail it now, without retrying."""


class RetryLater(RelayError):
    """Not yet: run the job again after `delay` seconds without spending an attempt.

    Throttles and circuit breakers raise this, so waiting never burns a retry.
    """

    def __init__(self, delay: float, reason: str = "retry later") -> None:
        super().__init__(reason)
        self.delay = max(0.0, delay)
        self.reason = reason


class BrokerUnavailable(RelayError):
    """RabbitMQ did not accept or confirm a publish in time."""


class NotFound(RelayError):
    """The resource does not exist, or belongs to someone else."""


class Conflict(RelayError):
    """The request clashes with the resource's current state."""


class LimitExceeded(RelayError):
    """A rate limit was hit; `retry_after` says when to come back, in seconds."""

    def __init__(self, retry_after: float, reason: str = "rate limit exceeded") -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason
