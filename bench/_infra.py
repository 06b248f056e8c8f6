"""Plumbing shared by the contenders: broker URLs, the management API, worker subprocesses
and the Redis-backed recorder that out-of-process workers use to report handled timestamps.

Nothing here is timed: it only sets up, observes and cleans up.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import redis

from bench.report import Sample

REPO_ROOT = Path(__file__).resolve().parent.parent
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MGMT_URL = os.environ.get("BENCH_MGMT_URL", "http://127.0.0.1:15672")
MGMT_USER = os.environ.get("BENCH_MGMT_USER", "guest")
MGMT_PASSWORD = os.environ.get("BENCH_MGMT_PASSWORD", "guest")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
VHOST = os.environ.get("BENCH_VHOST", "/")

# A run fails if no message is handled for this long after publishing finished.
STALL_TIMEOUT_S = float(os.environ.get("BENCH_STALL_TIMEOUT", "60"))


def fresh_name(prefix: str) -> str:
    """A queue (or key) name unique to one run; only chars every framework accepts."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def wait_all_handled(done: asyncio.Event, handled: Sequence[object]) -> None:
    """In-process contenders: until `done` is set; fails once nothing was handled for
    STALL_TIMEOUT_S."""
    last = -1
    while not done.is_set():
        if len(handled) == last:
            raise TimeoutError(f"consumer stalled at {last} messages")
        last = len(handled)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=STALL_TIMEOUT_S)


def venv_script(name: str) -> str:
    """The console script installed next to the running interpreter (e.g. .venv/bin/celery)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `uv sync --all-groups` first")
    return str(path)


# --------------------------------------------------------------------------- management API


def _mgmt(method: str, path: str) -> Any:
    token = base64.b64encode(f"{MGMT_USER}:{MGMT_PASSWORD}".encode()).decode()
    req = urllib.request.Request(
        f"{MGMT_URL}/api{path}", method=method, headers={"Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def _vhost() -> str:
    return urllib.parse.quote(VHOST, safe="")


def consumer_count(queue: str) -> int:
    """Live consumers on `queue` (the consumers listing is event-driven, not sampled)."""
    consumers = _mgmt("GET", f"/consumers/{_vhost()}")
    return sum(1 for c in consumers if c.get("queue", {}).get("name") == queue)


def wait_for_consumer(queue: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Block until a consumer is attached to `queue`, failing fast if the worker died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(proc):
            raise RuntimeError("worker exited before consuming (its log tail is printed above)")
        with contextlib.suppress(urllib.error.URLError):
            if consumer_count(queue) > 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"no consumer on {queue!r} after {timeout:.0f}s")


def wait_for_broker(timeout: float = 120.0) -> None:
    """Block until the broker answers the management aliveness test (publish + consume).

    The broker is shared; someone else's test may be pausing or restarting it.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if _mgmt("GET", f"/aliveness-test/{_vhost()}").get("status") == "ok":
                return
        except (OSError, ValueError):  # URLError, timeouts, refused, bad JSON
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"broker not alive after {timeout:.0f}s")
        print("  (waiting for the broker to come back)", flush=True)
        time.sleep(2)


def delete_queues(*names: str) -> None:
    for name in names:
        _delete("queues", name)


def delete_exchanges(*names: str) -> None:
    for name in names:
        _delete("exchanges", name)


def _delete(kind: str, name: str, attempts: int = 3) -> None:
    """Best-effort cleanup: never raises (it runs in `finally`), warns if it had to give up."""
    path = f"/{kind}/{_vhost()}/{urllib.parse.quote(name, safe='')}"
    for attempt in range(attempts):
        try:
            _mgmt("DELETE", path)
            return
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # never declared, or already gone
                return
        except OSError:  # URLError, timeout: the shared broker may be paused or restarting
            pass
        time.sleep(1 + attempt)
    print(f"WARNING: could not delete {kind[:-1]} {name!r}; delete it by hand", file=sys.stderr)


# --------------------------------------------------------------------------- worker processes


@contextlib.contextmanager
def worker_process(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    label: str,
    stop_signal: signal.Signals = signal.SIGTERM,
    stop_grace: float = 15.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a worker in its own session (process group) from the repo root.

    On exit — normal or not — the whole group gets `stop_signal`, then SIGKILL after
    `stop_grace` seconds, so forked pool children never outlive the run. On error the log tail is shown.
    """
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the worker
        prefix=f"bench-{label}-", suffix=".log", delete=False
    )
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    proc = subprocess.Popen(
        list(argv),
        cwd=REPO_ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ok = False
    try:
        yield proc
        ok = True
    finally:
        _stop_group(proc, stop_signal, stop_grace)
        log.close()
        if ok:
            Path(log.name).unlink(missing_ok=True)
        else:
            tail = Path(log.name).read_text(errors="replace")[-3000:]
            print(f"--- {label} worker log ({log.name}), tail ---\n{tail}", file=sys.stderr)


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Has the leader exited? Does not reap it (see `_stop_group`)."""
    if proc.returncode is not None:
        return True
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None


def _stop_group(
    proc: subprocess.Popen[bytes], stop_signal: signal.Signals, grace: float = 15.0
) -> None:
    """Signal the group, wait, then SIGKILL whatever is left of it.

    The leader is observed with WNOWAIT and reaped only at the end: while it is an unreaped
    zombie its pid (= the group id) cannot be reused, so the final killpg can only hit
    processes this run started (e.g. pool children that outlived their master).
    """
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, stop_signal)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not _exited(proc):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# --------------------------------------------------------------------------- Redis recorder


class RedisRecorder:
    """Worker side: record (n, sent_at, handled_at) per job without a Redis call per job.

    `record` appends to a deque (thread-safe, O(1)); a daemon thread RPUSHes batches every
    `interval` seconds. The thread is started lazily per process, so it survives prefork.
    """

    def __init__(self, key: str, url: str = REDIS_URL, interval: float = 0.05) -> None:
        self.key = key
        self.url = url
        self.interval = interval
        self._buf: collections.deque[str] = collections.deque()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def record(self, n: int, sent_at: float) -> None:
        handled = time.time()
        self._buf.append(f"{n},{sent_at!r},{handled!r}")
        if self._pid != os.getpid():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._flush_forever, name="bench-recorder", daemon=True).start()

    def _flush_forever(self) -> None:
        client = redis.Redis.from_url(self.url)
        while True:
            time.sleep(self.interval)
            batch: list[str] = []
            with contextlib.suppress(IndexError):
                while True:
                    batch.append(self._buf.popleft())
            if batch:
                client.rpush(self.key, *batch)


def collect_samples(key: str, n: int, *, progress_timeout: float = STALL_TIMEOUT_S) -> list[Sample]:
    """Parent side: wait until `n` samples are in the Redis list, then read and delete it."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        last, last_change = -1, time.monotonic()
        while True:
            count = int(client.llen(key))
            if count >= n:
                break
            if count != last:
                last, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > progress_timeout:
                raise TimeoutError(f"only {count}/{n} jobs handled; stalled {progress_timeout}s")
            time.sleep(0.02)
        raw: list[bytes] = client.lrange(key, 0, -1)  # type: ignore[assignment]
    finally:
        client.delete(key)
    samples: list[Sample] = []
    for item in raw:
        i, sent, handled = item.split(b",")
        samples.append(Sample(int(i), float(sent), float(handled)))
    return samples


def clear_key(key: str) -> None:
    """Best-effort: drop the run's Redis list (it runs in `finally`)."""
    try:
        redis.Redis.from_url(REDIS_URL).delete(key)
    except redis.RedisError as exc:
        print(f"WARNING: could not delete Redis key {key!r}: {exc!r}", file=sys.stderr)
