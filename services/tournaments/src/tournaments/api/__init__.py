"""The tournaments domain's HTTP surface, as the gateway mounts it."""

from common.web import DomainApi

from .routes import router, schedule_section

api = DomainApi(router=router, queue_sections={"schedule": schedule_section})
