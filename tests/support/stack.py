"""The Procfile's processes as real subprocesses, driven over HTTP through the gateway."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from .polling import eventually

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"

USER_KEY = "user-key"
OTHER_KEY = "other-key"
ADMIN_KEY = "admin-key"
TEST_KEYS = {
    "API_KEYS": f"{USER_KEY}=user-1,{OTHER_KEY}=user-2",
    "ADMIN_API_KEYS": ADMIN_KEY,
}


def procfile(root: Path = ROOT) -> dict[str, str]:
    lines = (root / "Procfile").read_text().splitlines()
    entries = (re.match(r"^([\w-]+):\s*(.+)$", line) for line in lines)
    return {m.group(1): m.group(2) for m in entries if m}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Stack:
    """Starts Procfile processes with an isolated environment; stops them all at the end.

    `root` is the checkout whose Procfile and code run (another release's, side by side).
    """

    def __init__(self, env: dict[str, Any], name: str = "stack", root: Path = ROOT) -> None:
        self.root = root
        self.port = free_port()
        self.env = {
            **os.environ,
            **{k: str(v) for k, v in env.items()},
            **TEST_KEYS,
            "GATEWAY_PORT": str(self.port),
            "GATEWAY_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        self.commands = procfile(root)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = ARTIFACTS / re.sub(r"[^\w.-]", "_", name)
        self.logs.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, replica: int | None = None, **env: Any) -> str:
        """Start Procfile process `name` (as replica `name.N` if given); returns its label."""
        label = name if replica is None else f"{name}.{replica}"
        process_env = {**self.env, **{k: str(v) for k, v in env.items()}}
        log = open(self.logs / f"{label}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.processes[label] = subprocess.Popen(
            ["sh", "-c", f"exec {self.commands[name]}"],
            cwd=self.root,
            env=process_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return label

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            self._check_alive("gateway")
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(ready, timeout=timeout, interval=0.2)

    def wait_consuming(self, queue: str, consumers: int = 1, timeout: float = 60) -> None:
        """Until `queue` has at least `consumers` consumers (the worker is up)."""
        # Imported here: the fake providers import this module inside the product image,
        # which has no pika.
        from .amqp import wait_consuming

        wait_consuming(self.env["RABBITMQ_URL"], queue, consumers, timeout)

    def _check_alive(self, label: str) -> None:
        process = self.processes.get(label)
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{label} exited with {process.returncode}:\n{self.tail(label)}")

    def tail(self, label: str, lines: int = 40) -> str:
        path = self.logs / f"{label}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def signal(self, label: str, sig: int) -> None:
        os.killpg(self.processes[label].pid, sig)

    def kill(self, label: str) -> None:
        """SIGKILL: no chance to ack, drain or close anything."""
        self.signal(label, signal.SIGKILL)
        self.processes[label].wait(10)

    def terminate(self, label: str, timeout: float = 40) -> int:
        self.signal(label, signal.SIGTERM)
        return self.processes[label].wait(timeout)

    def client(self, key: str | None = USER_KEY, **headers: str) -> httpx.Client:
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=15)

    def stop(self) -> None:
        for _label, process in self.processes.items():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
