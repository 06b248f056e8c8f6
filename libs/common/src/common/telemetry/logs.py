"""Structured logging: one JSON object per line, with job fields passed as `extra`."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from .scrubbing import scrub, scrub_text

# Logs keep the last four digits of a phone number (enough to tell recipients apart).
LOG_PHONE_DIGITS = 4

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RedactingFilter(logging.Filter):
    """No API key, bearer token, webhook secret or full phone number reaches a log line:
    the message and every `extra` field are scrubbed (common.telemetry.scrubbing) before formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = scrub_text(message, LOG_PHONE_DIGITS)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Tracebacks quote values too (a failed statement's parameters, a URL).
            trace = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub_text(trace, LOG_PHONE_DIGITS)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and not key.startswith("_"):
                record.__dict__[key] = scrub(value, key, LOG_PHONE_DIGITS)
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send every logger to stderr, as JSON lines or plain text."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aio-pika and aiormq log every reconnect attempt with a traceback; ours are enough.
    for noisy in ("aio_pika", "aiormq", "uvicorn.access", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
