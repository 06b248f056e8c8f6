"""The tournaments domain's HTTP surface, as the gateway mounts it."""

from common.web import DomainApi
from fastapi import APIRouter

from . import results, routes
from .dashboard import tournaments_in_play

router = APIRouter()
router.include_router(routes.router)
router.include_router(results.router)

api = DomainApi(
    router=router,
    queue_sections={"schedule": routes.schedule_section},
    dashboard_panels={"tournaments": tournaments_in_play},
)
