"""The real docker-compose stack for tests: one project, driven through its published ports.

`docker compose up --build --wait` with docker-compose.yml as users have it, plus
tests/compose/docker-compose.test.yml (the fake SMS provider as a container, a Stripe
secret, limits a test run needs). Every host port is a free one on 127.0.0.1 (the
compose file's *_HOST_PORT variables), so the stack never collides with the machine's
own RabbitMQ, Postgres and Redis nor with another run; the project name is unique, and
`down -v` removes its containers, network and volumes. Images come from the environment
(PYTHON_IMAGE, RABBITMQ_IMAGE, ...), as for users.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
FILES = (ROOT / "docker-compose.yml", ROOT / "tests" / "compose" / "docker-compose.test.yml")
ARTIFACTS = ROOT / "tests" / "artifacts"

# The compose file's development keys.
DEV_KEY = "dev-key"
ADMIN_KEY = "admin-key"
# What tests/compose/docker-compose.test.yml gives the gateway.
STRIPE_SECRET = "whsec_compose_test"

HOST_PORTS = (
    "GATEWAY_HOST_PORT",
    "RABBITMQ_HOST_PORT",
    "RABBITMQ_MANAGEMENT_HOST_PORT",
    "POSTGRES_HOST_PORT",
    "REDIS_HOST_PORT",
    "MAILPIT_UI_HOST_PORT",
    "PROMETHEUS_HOST_PORT",
    "GRAFANA_HOST_PORT",
    "JAEGER_UI_HOST_PORT",
    "FAKE_SMS_HOST_PORT",
)


class ComposeError(AssertionError):
    """A compose command failed; its output says why."""


class ComposeStack:
    files: tuple[Path, ...] = FILES
    host_ports: tuple[str, ...] = HOST_PORTS
    profiles: tuple[str, ...] = ("observability",)

    def __init__(self, name: str | None = None) -> None:
        self.project = name or f"relay-ct-{uuid.uuid4().hex[:8]}"
        self.ports = {var: free_port() for var in self.host_ports}
        self.env = {**os.environ, **{var: str(port) for var, port in self.ports.items()}}
        docker = shutil.which("docker")
        if docker is None:
            raise ComposeError("no docker CLI on PATH; run infra/ensure-docker.sh")
        self.docker = docker

    # ------------------------------------------------------------------ compose

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        """`docker compose -p <project> -f ... <args>`; its output, or ComposeError."""
        files = [arg for path in self.files for arg in ("-f", str(path))]
        command = [self.docker, "compose", "-p", self.project, *files, *args]
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ComposeError(f"`docker compose {' '.join(args)}` ran past {timeout}s") from error
        if check and done.returncode != 0:
            raise ComposeError(
                f"`docker compose {' '.join(args)}` exited {done.returncode}:\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout + done.stderr

    def up(self, *services: str, wait_timeout: int = 600, extra: tuple[str, ...] = ()) -> None:
        """`up --build --wait`: returns once every (named) service is healthy."""
        self.compose(
            "up",
            "--build",
            "--detach",
            "--wait",
            "--wait-timeout",
            str(wait_timeout),
            *extra,
            *services,
            timeout=wait_timeout + 300,
        )

    def down(self, volumes: bool = True) -> None:
        # With the profiles on: `down` leaves a profile's services (Prometheus) running else.
        profiles = [arg for profile in self.profiles for arg in ("--profile", profile)]
        self.compose(
            *profiles, "down", "--timeout", "20", *(("-v",) if volumes else ()), timeout=300,
        )  # fmt: skip

    def save_logs(self, label: str) -> Path:
        """Every container's log and `ps`, under tests/artifacts/compose-<project>-<label>/."""
        folder = ARTIFACTS / f"compose-{self.project}-{label}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ps.txt").write_text(self.compose("ps", "--all", check=False, timeout=60))
        (folder / "logs.txt").write_text(
            self.compose("logs", "--no-color", "--timestamps", check=False, timeout=120)
        )
        return folder

    # ------------------------------------------------------------------ containers

    def container_ids(self, service: str) -> list[str]:
        """Running containers of a service, in replica order."""
        out = self.compose("ps", "--quiet", service, timeout=60)
        return [line.strip() for line in out.splitlines() if len(line.strip()) == 64]

    def docker_cmd(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [self.docker, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise ComposeError(f"`docker {' '.join(args)}` failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def inspect(self, container: str, template: str) -> str:
        return self.docker_cmd("inspect", "-f", template, container)

    def crash(self, container: str) -> None:
        """SIGKILL the container's main process from the host, as a crash or OOM kill does.

        Not `docker kill`: Docker counts that as a manual stop and its restart policy then
        leaves the container down (documented; `unless-stopped` included).
        """
        pid = int(self.inspect(container, "{{.State.Pid}}"))
        assert pid > 0, f"{container} is not running"
        os.kill(pid, 9)

    def exec_python(self, service: str, code: str, index: int = 1) -> str:
        """Run Python inside one replica (for what only the container can reach)."""
        return self.compose(
            "exec", "-T", "--index", str(index), service, "python", "-c", code, timeout=60
        )

    def metrics(self, service: str, index: int) -> str:
        """A worker replica's Prometheus text (METRICS_PORT 9100, not published)."""
        return self.exec_python(
            service,
            "import urllib.request;"
            "print(urllib.request.urlopen('http://127.0.0.1:9100/metrics', timeout=10)"
            ".read().decode())",
            index=index,
        )

    def app_containers(self) -> dict[str, str]:
        """Every running Relay container (those `make deploy` restarts) -> its service."""
        out = self.docker_cmd(
            "ps", "--no-trunc", "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", "label=relay.deploy",
            "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}',
        )  # fmt: skip
        return dict(line.split() for line in out.splitlines() if line.strip())

    def lifetimes(self, containers: list[str]) -> dict[str, str]:
        """Each container's state, start time and restart count: equal while it never exited."""
        template = "{{.State.Status}} {{.State.StartedAt}} restarts={{.RestartCount}}"
        return {c: self.inspect(c, template) for c in containers}

    def logs(self, container: str, tail: int | None = None) -> str:
        """A container's log, stdout and stderr (the processes log JSON to stderr)."""
        done = subprocess.run(
            [self.docker, "logs", *(("--tail", str(tail)) if tail else ()), container],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return done.stdout + done.stderr

    def exits_since(self, before: dict[str, str]) -> str:
        """What became of the containers of `before` that exited or restarted since: each
        one's state and last log lines (empty when none did)."""
        report = []
        for container, was in before.items():
            try:
                now = self.inspect(container, "{{.State.Status}} {{.State.StartedAt}} "
                                              "restarts={{.RestartCount}}")  # fmt: skip
            except ComposeError:
                now = "removed"
            if now != was:
                name = self.inspect(container, "{{.Name}}") if now != "removed" else container
                report.append(f"{name}: {was} -> {now}; its log:\n{self.logs(container, 60)}")
        return "\n\n".join(report)

    def healthy(self, service: str) -> bool:
        """Every replica healthy (or, for an image without a health check, running)."""
        ids = self.container_ids(service)
        template = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
        return bool(ids) and all(self.inspect(c, template) in ("healthy", "running") for c in ids)

    # ------------------------------------------------------------------ HTTP

    def url(self, var: str) -> str:
        return f"http://127.0.0.1:{self.ports[var]}"

    @property
    def gateway(self) -> str:
        return self.url("GATEWAY_HOST_PORT")

    def client(self, key: str | None = DEV_KEY, **headers: str) -> httpx.Client:
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.Client(base_url=self.gateway, headers=headers, timeout=30)

    def management(self, path: str) -> Any:
        answer = httpx.get(
            f"{self.url('RABBITMQ_MANAGEMENT_HOST_PORT')}/api{path}",
            auth=("guest", "guest"),
            timeout=30,
        )
        answer.raise_for_status()
        return answer.json()

    def fake_sms_stats(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.url('FAKE_SMS_HOST_PORT')}/stats", timeout=30)
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.gateway}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False


def elapsed_since(started: float) -> float:
    return round(time.monotonic() - started, 1)
