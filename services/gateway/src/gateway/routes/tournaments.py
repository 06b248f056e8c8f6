"""HTTP routes of the tournaments domain."""

from fastapi import APIRouter

router = APIRouter(tags=["tournaments"])
