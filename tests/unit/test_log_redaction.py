"""Log lines never carry an API key, a bearer token, a webhook secret or a full number."""

from __future__ import annotations

import io
import json
import logging

from common.telemetry.logs import JsonFormatter, RedactingFilter


def _line(message: str, *args: object, **extra: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info(message, *args, extra=extra)
    parsed: dict[str, object] = json.loads(stream.getvalue())
    return parsed


def test_api_keys_and_bearer_tokens_are_cut_from_messages_and_fields() -> None:
    key = "rk_k0123456789ab_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA"
    line = _line("refused %s", f"Authorization: Bearer {key}", api_key=key, note=f"used {key}")
    text = json.dumps(line)
    assert key not in text and "Zm9vYmFy" not in text
    assert line["api_key"] == "[scrubbed]"


def test_webhook_secrets_are_cut() -> None:
    line = _line(
        "stripe secret whsec_abcdef123456 loaded",
        stripe_webhook_secret="whsec_abcdef123456",
        signature="t=1,v1=abc",
    )
    text = json.dumps(line)
    assert "abcdef123456" not in text and "v1=abc" not in text


def test_phone_numbers_keep_their_last_four_digits() -> None:
    line = _line("sending to %s", "+24177001234", to="+33612345678", phone="0612345678")
    assert line["msg"] == "sending to +•••••••1234"
    assert line["to"] == "+•••••••5678" and line["phone"] == "••••••5678"


def test_everything_else_is_left_as_it_was() -> None:
    line = _line("job done", queue="sms.send", attempt=2, key_id="k0123", user="user-1")
    assert line["msg"] == "job done"
    assert (line["queue"], line["attempt"], line["key_id"], line["user"]) == (
        "sms.send",
        2,
        "k0123",
        "user-1",
    )


def test_tracebacks_are_scrubbed_too() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction.exc")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        raise ValueError("bad key rk_k0123456789ab_c2VjcmV0c2VjcmV0 for +24177001234")
    except ValueError:
        logger.exception("failed")
    line = json.loads(stream.getvalue())
    assert "c2VjcmV0" not in line["exc"] and "+24177001234" not in line["exc"]
    assert "ValueError" in line["exc"] and "1234" in line["exc"]
