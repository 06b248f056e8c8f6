"""Settings of the tournaments worker (env names fixed by CONTRACT.md; the periods of its
periodic jobs are in scheduled.py)."""

from __future__ import annotations

import functools

from common.runtime import Runtime
from common.settings import RuntimeSettings
from common.smtp import SmtpSettings
from pydantic import Field


class TournamentSettings(RuntimeSettings, SmtpSettings):
    # SMTP_HOST, SMTP_PORT, SMTP_SECURITY (none, starttls, tls), MAIL_FROM...: SmtpSettings.

    # Players are warned when their match's deadline is this many seconds away or less.
    deadline_warning: float = Field(default=3600.0, gt=0)

    # E-mails per minute across every tournaments worker (shared Redis limiter).
    email_rate_per_minute: float = Field(default=60.0, gt=0)


def settings_of(runtime: Runtime) -> TournamentSettings:
    """The runtime's settings when it was started with ours, else read from the environment."""
    settings = runtime.settings
    return settings if isinstance(settings, TournamentSettings) else _from_env()


@functools.cache
def _from_env() -> TournamentSettings:
    return TournamentSettings()
