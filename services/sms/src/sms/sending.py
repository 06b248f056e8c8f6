"""What an sms worker process builds once: its settings, provider client, breaker and
throttles."""

from __future__ import annotations

from dataclasses import dataclass

from common.ratelimit import Rate
from common.runtime import Runtime

from .breaker import Breaker
from .domain import pacing_burst
from .providers import Provider, build_provider
from .settings import SmsSettings


@dataclass
class Sending:
    settings: SmsSettings
    provider: Provider
    breaker: Breaker
    bulk_rate: Rate | None
    provider_rate: Rate | None

    @property
    def batch_limit(self) -> int:
        """The most messages one job may send: a throttle never grants more than its burst."""
        limits = [self.settings.sms_bulk_batch]
        limits += [
            rate.burst for rate in (self.bulk_rate, self.provider_rate) if rate and rate.burst
        ]
        return max(1, min(limits))


_sending: dict[int, Sending] = {}


def sending_for(runtime: Runtime) -> Sending:
    """The process's Sending for `runtime`, built on first use."""
    found = _sending.get(id(runtime))
    if found is not None:
        return found
    settings = runtime.settings if isinstance(runtime.settings, SmsSettings) else SmsSettings()
    provider = build_provider(settings)
    per_hour = settings.sms_bulk_per_hour
    rate = settings.sms_provider_rate
    created = Sending(
        settings=settings,
        provider=provider,
        breaker=Breaker(
            runtime.redis,
            settings.redis_key_prefix,
            provider.name,
            settings.sms_breaker_failures,
            settings.sms_breaker_cooldown,
            probe_ttl=settings.sms_http_timeout + 5,
        ),
        bulk_rate=(
            Rate(per_hour, 3600, burst=pacing_burst(per_hour, settings.sms_bulk_burst))
            if per_hour
            else None
        ),
        provider_rate=Rate(rate, 1, burst=max(1, int(rate))) if rate else None,
    )
    _sending[id(runtime)] = created
    return created
