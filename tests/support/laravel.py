"""Real Laravel for the bridge tests: the PHP scripts in tests/laravel/, run as subprocesses
on Debian's PHP, Laravel 8.83 and php-amqplib (`bash infra/ensure-php.sh` installs them).

Without them a test is skipped locally, with the reason; under CI=true it fails instead.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LARAVEL_DIR = Path(__file__).resolve().parents[1] / "laravel"
AUTOLOADERS = ("/usr/share/php/Illuminate/autoload.php", "/usr/share/php/PhpAmqpLib/autoload.php")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def php_missing() -> str | None:
    """Why the PHP side cannot run here, or None when it can."""
    if shutil.which("php") is None:
        return "php is not installed (bash infra/ensure-php.sh installs it)"
    for autoloader in AUTOLOADERS:
        if not Path(autoloader).is_file():
            return f"{autoloader} is missing (bash infra/ensure-php.sh installs it)"
    return None


def require_php() -> None:
    """Skip the calling test without PHP; fail it on CI, where PHP must be installed."""
    reason = php_missing()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI needs PHP with Laravel and php-amqplib: {reason}", pytrace=False)
    pytest.skip(reason)


def random_app_key() -> str:
    """A fresh APP_KEY as `php artisan key:generate` writes it (AES-256-CBC)."""
    return "base64:" + base64.b64encode(os.urandom(32)).decode()


def eloquent_model(model_class: str, key: Any, connection: str | None = None) -> dict[str, Any]:
    """A constructor argument that publish.php turns into an Eloquent model with that key."""
    return {"$model": model_class, "id": key, "connection": connection}


def eloquent_models(model_class: str, keys: list[Any]) -> dict[str, Any]:
    """A constructor argument that publish.php turns into an Eloquent collection."""
    return {"$models": model_class, "ids": keys}


@dataclass(frozen=True)
class LaravelMessage:
    """One message as publish.php built (and maybe published) it."""

    id: str | None  # the driver's id, also the AMQP correlation_id
    uuid: str | None
    job_class: str | None
    body: bytes


def laravel_messages(
    jobs: list[dict[str, Any]],
    *,
    queue: str,
    app_key: str | None = None,
    cipher: str | None = None,
    amqp_url: str | None = None,
    timeout: float = 120,
) -> list[LaravelMessage]:
    """Payloads built by Laravel's own createPayload from the job specs (see publish.php);
    with `amqp_url`, also published to `queue` there exactly as the RabbitMQ driver does."""
    request: dict[str, Any] = {"queue": queue, "jobs": jobs, "amqp_url": amqp_url}
    if app_key is not None:
        request["app_key"] = app_key
    if cipher is not None:
        request["cipher"] = cipher
    output = _run_php("publish.php", json.dumps(request).encode(), timeout)
    messages = []
    for line in output.decode().splitlines():
        fields = json.loads(line)
        messages.append(
            LaravelMessage(
                fields["id"], fields["uuid"], fields["class"], base64.b64decode(fields["body"])
            )
        )
    return messages


def laravel_encrypt(
    items: list[tuple[Any, bool]], *, app_key: str, cipher: str | None = None
) -> list[str]:
    """Laravel's Encrypter::encrypt(value, serialize) of each (value, serialize) pair."""
    request: dict[str, Any] = {
        "app_key": app_key,
        "values": [{"value": value, "serialize": serialize} for value, serialize in items],
    }
    if cipher is not None:
        request["cipher"] = cipher
    done = _run_php("encrypt.php", json.dumps(request).encode(), timeout=60)
    encrypted: list[str] = json.loads(done)
    return encrypted


def _run_php(script: str, stdin: bytes, timeout: float) -> bytes:
    done = subprocess.run(
        ["php", str(LARAVEL_DIR / script)],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return done.stdout


class PhpSerializer:
    """One `php serialize.php` serving many values: each call sends one line (a batch of
    value specs, see serialize.php) and reads one line back."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["php", str(LARAVEL_DIR / "serialize.php")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def serialize_many(self, specs: list[Any]) -> list[bytes]:
        """PHP's serialize() of each value the specs describe, in order."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(specs).encode() + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            stderr = self.process.stderr.read().decode() if self.process.stderr else ""
            raise RuntimeError(f"serialize.php exited {self.process.returncode}: {stderr[-2000:]}")
        return [base64.b64decode(item) for item in json.loads(line)]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
