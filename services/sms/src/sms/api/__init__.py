"""The sms domain's HTTP surface, as the gateway mounts it."""

from common.web import DomainApi

from .breakers import breakers
from .dashboard import campaigns
from .routes import router

api = DomainApi(
    router=router,
    queue_sections={"breakers": breakers},
    dashboard_panels={"campaigns": campaigns, "breakers": breakers},
)
