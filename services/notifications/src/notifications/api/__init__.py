"""The notifications domain's HTTP surface (notifications, live stream, images)."""

from common.web import DomainApi

from .routes import router

api = DomainApi(router=router, upload_paths=("/v1/images",))  # multipart: IMAGE_MAX_BYTES
