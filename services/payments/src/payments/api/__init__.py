"""The payments domain's HTTP surface, as the gateway mounts it."""

from common.web import DomainApi

from .routes import router

api = DomainApi(router=router, callback_paths=("/v1/webhooks/",))  # Stripe, Monetbil
