"""Gateway settings of the payments domain: webhook secrets."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentsGatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Stripe's endpoint secret (whsec_...). Several may be given, comma separated, while
    # a secret is being rolled: a signature made with any of them is accepted.
    stripe_webhook_secret: str = ""
    # Largest accepted |now - t| of a Stripe-Signature timestamp, in seconds.
    stripe_webhook_tolerance: int = Field(default=300, ge=1)
    # The service secret Monetbil signs its callbacks with.
    monetbil_service_secret: str = ""

    @property
    def stripe_secrets(self) -> list[str]:
        return [part.strip() for part in self.stripe_webhook_secret.split(",") if part.strip()]


@cache
def payments_settings() -> PaymentsGatewaySettings:
    return PaymentsGatewaySettings()
