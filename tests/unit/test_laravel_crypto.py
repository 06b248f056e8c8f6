"""bridge.laravel_crypto against Laravel's own Encrypter (tests/laravel/encrypt.php):
AES-256-CBC (the default), AES-128-CBC and the GCM ciphers, encrypt() (serialized) and
encryptString(); a wrong key, an altered payload or a bad APP_KEY is a clear error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from bridge.laravel_crypto import (
    LaravelDecryptError,
    LaravelKeyError,
    decrypt_string,
    decrypt_value,
    looks_encrypted,
    parse_app_key,
)

from tests.support.laravel import laravel_encrypt, random_app_key, require_php

VALUES = [
    {"user_id": 1, "title": "Congé approuvé", "tags": ["rh", "😀"]},
    'O:8:"stdClass":0:{}',
    12.5,
    None,
]


@pytest.fixture(autouse=True)
def _php() -> None:
    require_php()


@pytest.mark.parametrize(
    ("key_bytes", "cipher"),
    [(32, None), (16, None), (32, "AES-256-GCM"), (16, "AES-128-GCM")],
    ids=["aes-256-cbc", "aes-128-cbc", "aes-256-gcm", "aes-128-gcm"],
)
def test_decrypts_what_laravel_encrypts(key_bytes: int, cipher: str | None) -> None:
    app_key = "base64:" + base64.b64encode(bytes(range(key_bytes))).decode()
    items = [(value, True) for value in VALUES] + [("héllo \0 wörld", False)]
    encrypted = laravel_encrypt(items, app_key=app_key, cipher=cipher)
    keys = [parse_app_key(app_key)]
    assert [decrypt_value(payload, keys) for payload in encrypted[:-1]] == VALUES
    assert decrypt_string(encrypted[-1], keys) == "héllo \0 wörld".encode()
    assert all(looks_encrypted(payload) for payload in encrypted)


def test_encrypt_serializes_and_encrypt_string_does_not() -> None:
    app_key = random_app_key()
    serialized, raw = laravel_encrypt([("abc", True), ("abc", False)], app_key=app_key)
    keys = [parse_app_key(app_key)]
    assert decrypt_string(serialized, keys) == b's:3:"abc";'
    assert decrypt_string(raw, keys) == b"abc"


def test_a_wrong_key_fails_on_the_mac() -> None:
    (payload,) = laravel_encrypt([("secret", True)], app_key=random_app_key())
    with pytest.raises(LaravelDecryptError, match="MAC is invalid"):
        decrypt_string(payload, [parse_app_key(random_app_key())])


def test_any_of_several_keys_decrypts_while_rotating() -> None:
    old, new = random_app_key(), random_app_key()
    (payload,) = laravel_encrypt([("secret", True)], app_key=old)
    assert decrypt_value(payload, [parse_app_key(new), parse_app_key(old)]) == "secret"


def test_a_wrong_key_fails_on_the_gcm_tag() -> None:
    (payload,) = laravel_encrypt([("secret", True)], app_key=random_app_key(), cipher="AES-256-GCM")
    with pytest.raises(LaravelDecryptError, match="GCM tag is invalid"):
        decrypt_string(payload, [parse_app_key(random_app_key())])


def test_an_altered_value_fails_on_the_mac() -> None:
    app_key = random_app_key()
    (payload,) = laravel_encrypt([("secret", True)], app_key=app_key)
    envelope = json.loads(base64.b64decode(payload))
    ciphertext = bytearray(base64.b64decode(envelope["value"]))
    ciphertext[0] ^= 1
    envelope["value"] = base64.b64encode(bytes(ciphertext)).decode()
    altered = base64.b64encode(json.dumps(envelope).encode())
    with pytest.raises(LaravelDecryptError, match="MAC is invalid"):
        decrypt_string(altered, [parse_app_key(app_key)])


def test_bad_padding_after_a_valid_mac_is_reported() -> None:
    # Only someone holding the key can sign a bad ciphertext; the error must still be clear.
    key = bytes(32)
    iv = base64.b64encode(bytes(16)).decode()
    value = base64.b64encode(bytes(16)).decode()  # decrypts to garbage, not PKCS#7
    mac = hmac.new(key, (iv + value).encode(), hashlib.sha256).hexdigest()
    payload = base64.b64encode(json.dumps({"iv": iv, "value": value, "mac": mac}).encode())
    with pytest.raises(LaravelDecryptError, match="padding is invalid"):
        decrypt_string(payload, [key])


@pytest.mark.parametrize(
    ("payload", "has_the_shape", "problem"),
    [
        (b"not base64!", False, "not base64 of JSON"),
        (base64.b64encode(b"[1, 2]"), False, "not an object"),
        (base64.b64encode(b'{"iv": "AAAA", "value": "AAAA"}'), False, "'mac' is missing"),
        (base64.b64encode(b'{"iv": "AAAA", "value": "AAAA", "mac": ""}'), True, "IV is 3 bytes"),
    ],
)
def test_payloads_of_the_wrong_shape_are_refused(
    payload: bytes, has_the_shape: bool, problem: str
) -> None:
    assert looks_encrypted(payload) is has_the_shape
    with pytest.raises(LaravelDecryptError, match=problem):
        decrypt_string(payload, [bytes(32)])


def test_no_key_at_all_is_its_own_error() -> None:
    (payload,) = laravel_encrypt([("secret", True)], app_key=random_app_key())
    with pytest.raises(LaravelDecryptError, match="no APP_KEY is configured"):
        decrypt_string(payload, [])


def test_app_key_forms_laravel_accepts() -> None:
    assert parse_app_key("base64:" + base64.b64encode(b"k" * 32).decode()) == b"k" * 32
    assert parse_app_key("  base64:" + base64.b64encode(b"k" * 16).decode() + "\n") == b"k" * 16
    assert parse_app_key("0123456789abcdef0123456789abcdef") == b"0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("app_key", "problem"),
    [
        ("base64:not*base64", "not valid base64"),
        ("base64:" + base64.b64encode(b"k" * 24).decode(), "24 bytes"),
        ("short", "5 bytes"),
        ("", "0 bytes"),
    ],
)
def test_app_keys_laravel_would_refuse(app_key: str, problem: str) -> None:
    with pytest.raises(LaravelKeyError, match=problem):
        parse_app_key(app_key)
