"""Settings of the payments worker (env names as in CONTRACT.md and .env.example)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Monetbil's checkPayment API: the authority on a transaction's status.
    monetbil_check_url: str = "https://api.monetbil.com/payment/v1/checkPayment"
    # Seconds for one checkPayment request (connect, read, write, pool).
    monetbil_check_timeout: float = Field(default=10.0, gt=0)
    # Quick tries of checkPayment inside one job attempt before the attempt fails and
    # the job waits for its JOB_RETRY_DELAYS tier.
    monetbil_check_tries: int = Field(default=3, ge=1)


@cache
def settings() -> PaymentsSettings:
    return PaymentsSettings()
