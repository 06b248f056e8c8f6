"""Tournament settings the gateway needs: the scheduler's periods, to show next run times."""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TournamentGatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    tournaments_every: float = Field(default=300.0, gt=0)
    deadlines_every: float = Field(default=900.0, gt=0)


@functools.cache
def tournament_settings() -> TournamentGatewaySettings:
    return TournamentGatewaySettings()
