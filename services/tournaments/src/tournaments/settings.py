"""Settings of the tournaments worker and the scheduler (env names fixed by CONTRACT.md)."""

from __future__ import annotations

import functools
from typing import Literal

from common.runtime import Runtime
from common.settings import RuntimeSettings
from pydantic import Field


class TournamentSettings(RuntimeSettings):
    # Periods of the scheduler, in seconds (fractions allowed, e.g. 1 in tests).
    tournaments_every: float = Field(default=300.0, gt=0)
    deadlines_every: float = Field(default=900.0, gt=0)
    # Players are warned when their match's deadline is this many seconds away or less.
    deadline_warning: float = Field(default=3600.0, gt=0)

    smtp_host: str = "localhost"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    # none (plain, e.g. Mailpit), starttls (upgrade on 587) or tls (implicit, 465).
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: float = Field(default=10.0, gt=0)
    mail_from: str = "noreply@relay.localhost"
    # E-mails per minute across every tournaments worker (shared Redis limiter).
    email_rate_per_minute: float = Field(default=60.0, gt=0)


def settings_of(runtime: Runtime) -> TournamentSettings:
    """The runtime's settings when it was started with ours, else read from the environment."""
    settings = runtime.settings
    return settings if isinstance(settings, TournamentSettings) else _from_env()


@functools.cache
def _from_env() -> TournamentSettings:
    return TournamentSettings()
