"""The compose stack on a three-node RabbitMQ cluster, for `make test-cluster`.

The same project runs first on one broker (docker-compose.yml, as users have it) and is
then moved onto the `cluster` profile (docker-compose.cluster.yml): the broker becomes a
three-node cluster and every process is pointed at the three nodes. Besides what
ComposeStack does, this knows the nodes: which one leads a queue, which members of a queue
are online, and how to kill, restart, cut off and reconnect one of them.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.compose import HOST_PORTS, ROOT, ComposeError, ComposeStack

SINGLE_FILES = (
    ROOT / "docker-compose.yml",
    ROOT / "tests" / "compose" / "docker-compose.test.yml",
    ROOT / "tests" / "cluster" / "docker-compose.test.yml",
)
CLUSTER_FILES = (
    ROOT / "docker-compose.yml",
    ROOT / "docker-compose.cluster.yml",
    ROOT / "tests" / "compose" / "docker-compose.test.yml",
    ROOT / "tests" / "cluster" / "docker-compose.test.yml",
)

# Compose service -> (AMQP host-port variable, management host-port variable).
NODES = {
    "rabbitmq": ("RABBITMQ_HOST_PORT", "RABBITMQ_MANAGEMENT_HOST_PORT"),
    "rabbitmq-2": ("RABBITMQ_2_HOST_PORT", "RABBITMQ_2_MANAGEMENT_HOST_PORT"),
    "rabbitmq-3": ("RABBITMQ_3_HOST_PORT", "RABBITMQ_3_MANAGEMENT_HOST_PORT"),
}
APP_SERVICES = ("gateway", "sms", "payments", "tournaments", "scheduler", "notifications")


def node_name(service: str) -> str:
    """`rabbitmq-2` -> `rabbit@rabbitmq-2`: the node name RabbitMQ reports."""
    return f"rabbit@{service}"


def service_of(node: str) -> str:
    return node.split("@", 1)[1]


class ClusterStack(ComposeStack):
    host_ports = (*HOST_PORTS, *(v for pair in list(NODES.values())[1:] for v in pair))
    profiles = ("observability", "cluster")

    def __init__(self) -> None:
        super().__init__(f"relay-cl-{uuid.uuid4().hex[:8]}")
        self.files = SINGLE_FILES
        self.clustered = False
        self.unreachable: set[str] = set()  # nodes killed or cut off by a test
        self._containers: dict[str, str] = {}
        self._aliases: dict[str, list[str]] = {}

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        profile = ("--profile", "cluster") if self.clustered else ()
        return super().compose(*profile, *args, timeout=timeout, check=check)

    def up_single(self) -> None:
        self.up()

    def up_cluster(self) -> None:
        """The same project on three nodes: the processes stop, the broker is recreated as
        node 1, nodes 2 and 3 join it, the processes start again with RABBITMQ_URLS
        (Postgres and Redis stay)."""
        if not self.clustered and self.container_ids("gateway"):
            # As docs/scaling.md says: the single node's processes must not reach the new
            # node 1 before its peers joined (they would declare one-member queues).
            self.compose("stop", *APP_SERVICES, timeout=180)
        self.files, self.clustered = CLUSTER_FILES, True
        self.up(extra=("--remove-orphans",))
        self._containers = {}

    def down(self, volumes: bool = True) -> None:
        self.files, self.clustered = CLUSTER_FILES, True
        super().down(volumes)
        if volumes:
            # `down -v` removes the volumes the services use; the single node's own
            # (rabbitmq-data, replaced on the cluster) is the project's too.
            left = self.docker_cmd(
                "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={self.project}"
            )
            for volume in left.split():
                self.docker_cmd("volume", "rm", volume)

    # ------------------------------------------------------------------ nodes

    def container(self, service: str) -> str:
        """The container of a node, running or not."""
        if service not in self._containers:
            out = self.compose("ps", "--all", "--quiet", service, timeout=60)
            ids = [line.strip() for line in out.splitlines() if len(line.strip()) == 64]
            assert ids, f"no container for {service}"
            self._containers[service] = ids[0]
        return self._containers[service]

    def management(self, path: str) -> Any:
        """The management API of the first reachable node (any node answers for all)."""
        failure: Exception | None = None
        for service, (_, port_var) in NODES.items():
            if service in self.unreachable:
                continue
            try:
                answer = httpx.get(
                    f"{self.url(port_var)}/api{path}", auth=("guest", "guest"), timeout=10
                )
                answer.raise_for_status()
                return answer.json()
            except httpx.HTTPError as error:
                failure = error
        raise ComposeError(f"no node's management API answered {path}: {failure!r}")

    def queues(self) -> dict[str, dict[str, Any]]:
        columns = "name,type,leader,members,online,messages"
        return {q["name"]: q for q in self.management(f"/queues/%2F?columns={columns}")}

    def running_nodes(self) -> set[str]:
        return {n["name"] for n in self.management("/nodes?columns=name,running") if n["running"]}

    def leader_of(self, *queues: str) -> str:
        """The node (service name) that leads most of `queues`."""
        known = self.queues()
        leaders = [known[q]["leader"] for q in queues]
        return service_of(max(set(leaders), key=leaders.count))

    def fully_replicated(self) -> list[str]:
        """Every quorum queue with all three members online; AssertionError names others."""
        all_nodes = {node_name(s) for s in NODES}
        short = [
            f"{q['name']}: online {q.get('online')}"
            for q in self.queues().values()
            if q.get("type") == "quorum" and set(q.get("online") or []) != all_nodes
        ]
        assert not short, f"{len(short)} queues lack members, e.g. {short[:3]}"
        return sorted(self.queues())

    def connections(self) -> list[dict[str, Any]]:
        """The app processes' AMQP connections: node, name and client address."""
        found = self.management(
            "/connections?columns=node,peer_host,client_properties,connected_at"
        )
        return [
            {
                "node": c["node"],
                "peer": c.get("peer_host"),
                "name": (c.get("client_properties") or {}).get("connection_name", ""),
                "since": (c.get("connected_at") or 0) / 1000,  # epoch seconds
            }
            for c in found
        ]

    def kill(self, service: str) -> float:
        """`docker kill` a node (SIGKILL; its restart policy leaves it down); returns when
        the kill was ordered (it strikes while the command runs)."""
        self.unreachable.add(service)
        ordered = time.time()
        self.docker_cmd("kill", self.container(service))
        return ordered

    def start(self, service: str) -> None:
        self.docker_cmd("start", self.container(service), timeout=120)
        self.wait_healthy(service)
        self.unreachable.discard(service)

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def partition(self, service: str) -> float:
        """Cut a node off the stack's network (`docker network disconnect`); returns when
        the cut was ordered."""
        networks = json.loads(
            self.inspect(self.container(service), "{{json .NetworkSettings.Networks}}")
        )
        aliases = set(networks[self.network].get("Aliases") or []) | {service}
        self._aliases[service] = sorted(aliases)
        self.unreachable.add(service)
        ordered = time.time()
        self.docker_cmd("network", "disconnect", self.network, self.container(service))
        return ordered

    def heal(self, service: str) -> None:
        """Reconnect a cut-off node under its former names (its peers find it by name)."""
        aliases = self._aliases.get(service, [service])
        flags = [arg for alias in aliases for arg in ("--alias", alias)]
        self.docker_cmd("network", "connect", *flags, self.network, self.container(service))
        self.unreachable.discard(service)

    def is_connected(self, service: str) -> bool:
        networks = json.loads(
            self.inspect(self.container(service), "{{json .NetworkSettings.Networks}}")
        )
        return self.network in networks

    def wait_healthy(self, service: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inspect(self.container(service), "{{.State.Health.Status}}") == "healthy":
                return
            time.sleep(1)
        raise ComposeError(f"{service} not healthy within {timeout}s")

    # ------------------------------------------------------------------ the fake provider

    def fake_sms_timeline(self, since: float) -> list[float]:
        answer = httpx.get(
            f"{self.url('FAKE_SMS_HOST_PORT')}/timeline", params={"since": since}, timeout=30
        )
        answer.raise_for_status()
        times: list[float] = answer.json()["at"]
        return times

    def fake_sms_fail(self, number: str, *statuses: int) -> None:
        answer = httpx.post(
            f"{self.url('FAKE_SMS_HOST_PORT')}/steer/fail-number",
            json={"number": number, "statuses": list(statuses)},
            timeout=10,
        )
        answer.raise_for_status()


def artifacts_file(name: str) -> Path:
    folder = ROOT / "tests" / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
