"""The notifications domain's HTTP surface (notifications, live stream, images)."""

from common.web import DomainApi

from .routes import router

api = DomainApi(router=router)
