"""HTTP routes of the sms domain."""

from fastapi import APIRouter

router = APIRouter(tags=["sms"])
