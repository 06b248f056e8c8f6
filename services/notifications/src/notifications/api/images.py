"""HTTP routes of image jobs: upload (multipart, streamed), status and variant downloads."""

from __future__ import annotations

import uuid
from typing import Any

from common.envelope import Envelope
from common.errors import NotFound
from common.web import CurrentUser, Db, RuntimeDep
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ValidationError

from ..contracts import IMAGE_CONTENT_TYPES, ImageStatus, ImageVariant, image_key
from . import store
from .service import ImageAccepted, ImageOptions, UnsupportedImage, accept_image, image_storage
from .settings import notifications_settings
from .upload import NotMultipart, UploadInvalid, UploadTooLarge, read_upload

router = APIRouter(tags=["images"])


class Size(BaseModel):
    width: int
    height: int


class ImageView(BaseModel):
    id: uuid.UUID
    status: ImageStatus
    error: str | None
    links: dict[str, str]
    content_type: str
    large: Size | None
    thumb: Size | None


def _invalid(field: str, message: str) -> JSONResponse:
    # The same shape as every other 422 of the gateway (errors.py).
    return JSONResponse(
        {"detail": f"{field}: {message}", "errors": [{"field": field, "message": message}]},
        status_code=422,
    )


_UPLOAD_DOC: dict[int | str, dict[str, Any]] = {
    413: {"description": "the file is larger than IMAGE_MAX_BYTES"},
    415: {"description": "not a JPEG, PNG or WebP file (judged by its bytes)"},
}


@router.post(
    "/v1/images",
    status_code=202,
    response_model=ImageAccepted,
    responses=_UPLOAD_DOC,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            # The form fields' bounds, from the model that checks them.
                            **ImageOptions.model_json_schema()["properties"],
                        },
                    },
                    # What sniff_image_format recognises (the bytes decide, not this header).
                    "encoding": {"file": {"contentType": "image/jpeg, image/png, image/webp"}},
                }
            },
        }
    },
)
async def upload_image(user: CurrentUser, request: Request, runtime: RuntimeDep) -> Any:
    max_bytes = notifications_settings().image_max_bytes
    try:
        upload = await read_upload(request, file_field="file", max_bytes=max_bytes)
    except NotMultipart:
        raise HTTPException(
            415, "send the image as multipart/form-data with a `file` part"
        ) from None
    except UploadTooLarge:
        raise HTTPException(
            413, f"the file is larger than {max_bytes} bytes (IMAGE_MAX_BYTES)"
        ) from None
    except UploadInvalid as invalid:
        return _invalid(invalid.field, invalid.message)
    try:
        try:
            options = ImageOptions.model_validate(upload.fields)
        except ValidationError as error:
            first = error.errors()[0]
            return _invalid(".".join(str(p) for p in first["loc"]), first["msg"])
        if upload.file is None:
            return _invalid("file", "Field required")
        envelope = Envelope(user_id=user.id, idempotency_key=request.headers.get("idempotency-key"))
        accepted = await accept_image(
            runtime, user.id, upload.file, upload.head, options, envelope, size=upload.size
        )
    except UnsupportedImage as unsupported:
        raise HTTPException(415, str(unsupported)) from None
    finally:
        upload.close()
    return JSONResponse(accepted.answer.model_dump(mode="json"), status_code=202)


def _links(image: store.ImageRecord) -> dict[str, str]:
    variants = [ImageVariant.original]
    if image.status is ImageStatus.done:
        variants += [ImageVariant.large, ImageVariant.thumb]
    return {variant.value: f"/v1/images/{image.id}/{variant.value}" for variant in variants}


async def _own_image(db: Db, user_id: str, image_id: uuid.UUID) -> store.ImageRecord:
    image = await store.get_image(db, user_id, image_id)
    if image is None:
        raise NotFound(f"no image {image_id}")
    return image


@router.get("/v1/images/{image_id}")
async def show_image(user: CurrentUser, db: Db, image_id: uuid.UUID) -> ImageView:
    image = await _own_image(db, user.id, image_id)
    done = image.status is ImageStatus.done
    return ImageView(
        id=image.id,
        status=image.status,
        error=image.error,
        links=_links(image),
        content_type=IMAGE_CONTENT_TYPES[image.format],
        large=Size(width=image.large_width or 0, height=image.large_height or 0) if done else None,
        thumb=Size(width=image.thumb_width or 0, height=image.thumb_height or 0) if done else None,
    )


@router.get(
    "/v1/images/{image_id}/{variant}",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
async def download_image(
    user: CurrentUser, db: Db, image_id: uuid.UUID, variant: ImageVariant
) -> StreamingResponse:
    image = await _own_image(db, user.id, image_id)
    if variant is not ImageVariant.original and image.status is not ImageStatus.done:
        raise NotFound(
            f"{variant.value} of image {image_id} is not ready (status {image.status.value})"
        )
    storage = image_storage()
    key = image_key(image_id, variant)
    if not await storage.exists(key):
        raise NotFound(f"{variant.value} of image {image_id} is not stored")
    return StreamingResponse(
        storage.stream(key),
        media_type=IMAGE_CONTENT_TYPES[image.format],
        # A variant never changes once written.
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )
