"""Laravel's Encrypter, the decrypting half (Illuminate\\Encryption\\Encrypter, Laravel 8.83):
what a job that implements `ShouldBeEncrypted` carries in `data.command`.

The payload is base64 of JSON `{"iv", "value", "mac", "tag"}`: `iv` base64 of the IV, `value`
base64 of the ciphertext (openssl_encrypt's default output). AES-CBC (AES-256 for a 32-byte
key, Laravel's default cipher, AES-128 for 16 bytes) is authenticated by `mac`, the hex
HMAC-SHA256 over the two base64 strings `iv . value`, with an empty `tag`; AES-GCM (the
`aes-*-gcm` ciphers) carries its `tag` and an empty `mac` instead.

`Encrypter::encrypt($value)` serializes its value first (`serialize=true` by default), so
`decrypt_value` unserializes; `encryptString` does not, so `decrypt_string` returns bytes.
The queue calls `encrypt(serialize(clone $job))` (Queue::createObjectPayload): the plaintext
is the serialize() of a string that is itself the serialize() of the job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .php_serialize import loads

__all__ = [
    "LaravelDecryptError",
    "LaravelKeyError",
    "decrypt_string",
    "decrypt_value",
    "looks_encrypted",
    "parse_app_key",
]

KEY_SIZES = (16, 32)  # aes-128-*, aes-256-*
CBC_IV_BYTES = 16
GCM_IV_BYTES = 12


class LaravelKeyError(ValueError):
    """An APP_KEY Laravel itself would refuse."""


class LaravelDecryptError(ValueError):
    """A payload that Laravel's Encrypter would refuse to decrypt with these keys."""


def parse_app_key(app_key: str) -> bytes:
    """The key bytes of an APP_KEY as written in Laravel's `.env`: `base64:...`, or (as
    Laravel also accepts) the raw 16 or 32 characters."""
    text = app_key.strip()
    if text.startswith("base64:"):
        try:
            key = base64.b64decode(text[len("base64:") :], validate=True)
        except binascii.Error:
            raise LaravelKeyError("APP_KEY 'base64:...' is not valid base64") from None
    else:
        key = text.encode("utf-8")
    if len(key) not in KEY_SIZES:
        raise LaravelKeyError(
            f"APP_KEY is {len(key)} bytes; Laravel's ciphers take 32 (AES-256) or 16 (AES-128)"
        )
    return key


def looks_encrypted(payload: str | bytes) -> bool:
    """Whether `payload` has the Encrypter's shape (base64 JSON with iv, value and mac),
    without any key: how a command that is not serialize() output is told apart."""
    try:
        _envelope(payload)
    except LaravelDecryptError:
        return False
    return True


def decrypt_string(payload: str | bytes, keys: Sequence[bytes]) -> bytes:
    """The plaintext, as `decryptString` (and `decrypt($payload, false)`) returns it; the
    first of `keys` that authenticates the payload is used (several while rotating)."""
    if not keys:
        raise LaravelDecryptError("the payload is encrypted and no APP_KEY is configured")
    envelope = _envelope(payload)
    if envelope["tag"]:
        return _decrypt_gcm(envelope, keys)
    return _decrypt_cbc(envelope, keys)


def decrypt_value(payload: str | bytes, keys: Sequence[bytes]) -> Any:
    """The value, as `decrypt($payload)` returns it: the plaintext unserialized."""
    return loads(decrypt_string(payload, keys))


def _envelope(payload: str | bytes) -> dict[str, str]:
    try:
        decoded = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        raise LaravelDecryptError("the payload is not base64 of JSON") from None
    if not isinstance(decoded, dict):
        raise LaravelDecryptError("the payload's JSON is not an object")
    fields = {name: decoded.get(name) for name in ("iv", "value", "mac", "tag")}
    fields["tag"] = fields["tag"] or ""
    for name, value in fields.items():
        if not isinstance(value, str):
            raise LaravelDecryptError(f"the payload's {name!r} is missing or not a string")
    return fields  # type: ignore[return-value]  # every value was checked to be a str


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise LaravelDecryptError(f"the payload's {name!r} is not base64") from None


def _decrypt_cbc(envelope: dict[str, str], keys: Sequence[bytes]) -> bytes:
    iv = _b64(envelope["iv"], "iv")
    if len(iv) != CBC_IV_BYTES:
        raise LaravelDecryptError(f"the IV is {len(iv)} bytes, AES-CBC takes {CBC_IV_BYTES}")
    signed = (envelope["iv"] + envelope["value"]).encode("ascii", "replace")
    given = envelope["mac"].encode("utf-8", "replace")
    key = next(
        (
            candidate
            for candidate in keys
            if hmac.compare_digest(
                hmac.new(candidate, signed, hashlib.sha256).hexdigest().encode(), given
            )
        ),
        None,
    )
    if key is None:
        raise LaravelDecryptError(
            "the MAC is invalid: the job was encrypted with another APP_KEY, or altered"
        )
    ciphertext = _b64(envelope["value"], "value")
    if not ciphertext or len(ciphertext) % 16:
        raise LaravelDecryptError(f"the ciphertext is {len(ciphertext)} bytes, not whole blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise LaravelDecryptError("the padding is invalid after decryption") from None


def _decrypt_gcm(envelope: dict[str, str], keys: Sequence[bytes]) -> bytes:
    iv = _b64(envelope["iv"], "iv")
    if len(iv) != GCM_IV_BYTES:
        raise LaravelDecryptError(f"the IV is {len(iv)} bytes, AES-GCM takes {GCM_IV_BYTES}")
    sealed = _b64(envelope["value"], "value") + _b64(envelope["tag"], "tag")
    for key in keys:
        try:
            return AESGCM(key).decrypt(iv, sealed, None)
        except InvalidTag:
            continue
    raise LaravelDecryptError(
        "the GCM tag is invalid: the job was encrypted with another APP_KEY, or altered"
    )
