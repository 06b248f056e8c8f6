"""The sms domain's HTTP surface, as the gateway mounts it."""

from common.web import DomainApi

from .breakers import breaker_states
from .dashboard import campaign_action, campaign_progress
from .routes import router
from .twilio import router as twilio_router

router.include_router(twilio_router)

api = DomainApi(
    router=router,
    queue_sections={"breakers": breaker_states},
    dashboard_panels={"campaigns": campaign_progress, "breakers": breaker_states},
    dashboard_actions={"campaigns": campaign_action},
)
