"""docker-compose.yml is valid and keeps the deployment promises of ARCHITECTURE/CONTRACT.

No Docker engine is needed: `docker-compose config` (v1) or `docker compose config` (v2)
validates and renders the file on its own; the structural checks then read the rendered
YAML, i.e. what compose itself sees after anchors, merges and `${VAR:-default}` expansion.
CI installs a compose CLI with infra/ensure-compose-cli.sh.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INFRA = ROOT / "infra"

# The Procfile's process names (CONTRACT.md); used when the Procfile is not there yet.
CONTRACT_PROCESSES = ("gateway", "sms", "payments", "tournaments", "scheduler", "notifications")
BACKING_SERVICES = ("rabbitmq", "postgres", "redis")
OBSERVABILITY = ("prometheus", "grafana", "jaeger")
# Written by `make definitions` (other code); every other bind-mounted file is ours.
GENERATED_FILES = {INFRA / "rabbitmq" / "definitions.json"}


def _compose_cli() -> list[str]:
    """The compose command line to use: v1 `docker-compose`, else the v2 plugin."""
    v1 = shutil.which("docker-compose")
    if v1:
        return [v1]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    if os.environ.get("CI"):
        pytest.fail(
            "no compose CLI on CI: neither `docker-compose` nor `docker compose` works; "
            "run infra/ensure-compose-cli.sh before the tests",
            pytrace=False,
        )
    pytest.skip("no docker-compose or `docker compose` on this machine")


def _procfile_names() -> list[str]:
    procfile = ROOT / "Procfile"
    if not procfile.exists():
        return list(CONTRACT_PROCESSES)
    names = []
    for line in procfile.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+)\s*:", line)
        if match and not line.lstrip().startswith("#"):
            names.append(match.group(1))
    return names


def _seconds(value: str | int | float) -> float:
    """A compose duration ("45s", "1m30s", "1m") in seconds."""
    if isinstance(value, int | float):
        return float(value)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", value)
    assert parts, f"unparseable duration {value!r}"
    return sum(float(n) * units[u] for n, u in parts)


def _healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    """`compose config` with the observability profile on: must succeed; its YAML output."""
    cli = _compose_cli()
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "--profile", "observability", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{' '.join(cli)} config` failed ({result.returncode}):\n{result.stderr}"
    )
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict) and config.get("services"), result.stdout
    return cast(dict[str, Any], config)


@pytest.fixture(scope="module")
def compose_services(rendered: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rendered services (named apart from conftest's `services`: the backing URLs)."""
    services: dict[str, dict[str, Any]] = rendered["services"]
    return services


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The file as written (anchors resolved by PyYAML), for what `config` normalises."""
    return cast(dict[str, Any], yaml.safe_load(COMPOSE_FILE.read_text()))


def test_compose_config_succeeds(rendered: dict[str, Any]) -> None:
    assert set(BACKING_SERVICES) <= set(rendered["services"])


def test_every_procfile_process_is_a_service(compose_services: dict[str, dict[str, Any]]) -> None:
    services = compose_services
    names = _procfile_names()
    assert set(CONTRACT_PROCESSES) <= set(names), f"Procfile lacks {CONTRACT_PROCESSES}"
    missing = [name for name in names if name not in services]
    assert not missing, f"Procfile processes without a compose service: {missing}"


def test_workers_are_scalable(compose_services: dict[str, dict[str, Any]]) -> None:
    """`docker compose up --scale sms=4`: no fixed container name, no host port (the
    gateway's replicas are reached through the proxy)."""
    services = compose_services
    for name in _procfile_names():
        service = services[name]
        assert "container_name" not in service, f"{name} sets container_name"
        assert not service.get("ports"), f"{name} publishes ports {service.get('ports')}"
    # Nothing else pins a container name either: two stacks can run side by side.
    pinned = [n for n, s in services.items() if "container_name" in s]
    assert not pinned, f"container_name set on {pinned}"


def test_app_services_wait_for_healthy_backing_services(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    services = compose_services
    for name in _procfile_names():
        depends_on = services[name].get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on must use conditions"
        for backing in BACKING_SERVICES:
            assert backing in depends_on, f"{name} does not depend on {backing}"
            condition = depends_on[backing].get("condition")
            assert condition == "service_healthy", f"{name} -> {backing}: {condition}"


def test_health_checks_need_no_curl(compose_services: dict[str, dict[str, Any]]) -> None:
    services = compose_services
    for name in (*BACKING_SERVICES, *_procfile_names()):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
        text = _healthcheck_text(services[name])
        assert not re.search(r"\b(curl|wget)\b", text), f"{name}: {text}"
    # Ready, not only alive: a deploy stops an old replica once its successor is ready.
    assert "/readyz" in _healthcheck_text(services["gateway"])
    assert "rabbitmq-diagnostics" in _healthcheck_text(services["rabbitmq"])
    assert "pg_isready" in _healthcheck_text(services["postgres"])
    assert "redis-cli" in _healthcheck_text(services["redis"])


def test_app_processes_share_one_image(compose_services: dict[str, dict[str, Any]]) -> None:
    services = compose_services
    images = {services[name].get("image") for name in _procfile_names()}
    assert len(images) == 1 and None not in images, images
    for name in _procfile_names():
        build = services[name].get("build")
        context = build["context"] if isinstance(build, dict) else build
        assert context and Path(str(context)).resolve() == ROOT, f"{name} builds from {context}"
    assert (ROOT / "Dockerfile").is_file()


def test_commands_match_the_processes(compose_services: dict[str, dict[str, Any]]) -> None:
    services = compose_services
    modules = {
        "gateway": "gateway",
        "sms": "sms",
        "payments": "payments",
        "tournaments": "tournaments",
        "scheduler": "common.scheduling",
        "notifications": "notifications",
    }
    for name, module in modules.items():
        assert services[name]["command"] == ["python", "-m", module], name


def test_shared_environment(compose_services: dict[str, dict[str, Any]]) -> None:
    services = compose_services
    required = {
        "RABBITMQ_URL": "rabbitmq",
        "RABBITMQ_MANAGEMENT_URL": "rabbitmq",
        "DATABASE_URL": "postgres",
        "REDIS_URL": "redis",
    }
    for name in _procfile_names():
        env = services[name]["environment"]
        for var, host in required.items():
            assert urlsplit(env[var]).hostname == host, f"{name}: {var}={env[var]}"
        for var in ("API_KEYS", "ADMIN_API_KEYS", "LOG_LEVEL", "OTEL_TRACES_EXPORTER"):
            assert env.get(var), f"{name}: {var} unset"
        assert env["SMTP_HOST"] == "mailpit"
        assert env["IMAGE_STORAGE_DIR"] == "/data/images"
        if name != "gateway":
            assert str(env["METRICS_PORT"]) == "9100", f"{name} exposes no metrics port"
    assert str(services["gateway"]["environment"]["GATEWAY_PORT"]) == "8000"


def test_graceful_stop_outlasts_the_worker_grace_period(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    """WORKER_GRACE_SECONDS defaults to 30 s; compose must not SIGKILL before that."""
    services = compose_services
    for name in _procfile_names():
        grace = services[name].get("stop_grace_period", "10s")
        assert _seconds(grace) > 30, f"{name}: stop_grace_period {grace}"


def test_image_volume_is_shared(compose_services: dict[str, dict[str, Any]]) -> None:
    services = compose_services

    def image_volume(name: str) -> str | None:
        for volume in services[name].get("volumes", []):
            if isinstance(volume, str):
                source, _, rest = volume.partition(":")
                target = rest.split(":")[0]
            else:
                source, target = volume.get("source"), volume.get("target")
            if target == "/data/images":
                return source
        return None

    assert image_volume("gateway") is not None
    assert image_volume("gateway") == image_volume("notifications")


def test_observability_profile(
    compose_services: dict[str, dict[str, Any]], raw: dict[str, Any]
) -> None:
    services = compose_services
    for name in OBSERVABILITY:
        assert name in services, f"{name} missing"
        assert raw["services"][name].get("profiles") == ["observability"], name
    # Everything else starts with a plain `docker compose up`.
    for name, service in raw["services"].items():
        if name not in OBSERVABILITY:
            assert not service.get("profiles"), f"{name} hidden behind {service['profiles']}"


def test_images_are_pinned(compose_services: dict[str, dict[str, Any]]) -> None:
    services = compose_services
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name} has no image"
        reference = image.split("@")[0]
        tag = reference.rsplit("/", 1)[-1].partition(":")[2]
        assert "@sha256:" in image or tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"


def test_dockerfile_base_images_are_pinned() -> None:
    text = (ROOT / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, flags=re.M))
    stages: set[str] = set()
    for match in re.finditer(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.M | re.I):
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
        if image not in stages:
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            assert tag and tag != "latest", f"unpinned base image {image}"
        if match.group(2):
            stages.add(match.group(2))
    assert re.search(r"^USER\s+(?!root)\S+", text, flags=re.M), "the image must not run as root"


def test_bind_mounted_files_exist(raw: dict[str, Any]) -> None:
    for name, service in raw["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if not source or not source.startswith("."):
                continue  # a named volume
            path = (ROOT / source).resolve()
            if path in GENERATED_FILES:
                continue
            assert path.exists(), f"{name} mounts missing {source}"


def test_rabbitmq_definitions_and_credentials(compose_services: dict[str, dict[str, Any]]) -> None:
    """Boot-time definitions skip the default user, so users.json must carry the user the
    processes log in with (RABBITMQ_URL), and rabbitmq.conf must load that directory."""
    services = compose_services
    conf = (INFRA / "rabbitmq" / "rabbitmq.conf").read_text()
    match = re.search(r"^load_definitions\s*=\s*(\S+)", conf, flags=re.M)
    assert match, "rabbitmq.conf does not load definitions"
    definitions_dir = match.group(1).rstrip("/")
    mounted = [
        v.split(":")[1] if isinstance(v, str) else v["target"]
        for v in services["rabbitmq"]["volumes"]
    ]
    imported = [t for t in mounted if t.startswith(definitions_dir + "/")]
    assert any(t.endswith("users.json") for t in imported), imported
    assert any(t.endswith("topology.json") for t in imported), imported

    url = urlsplit(services["gateway"]["environment"]["RABBITMQ_URL"])
    users = json.loads((INFRA / "rabbitmq" / "users.json").read_text())
    user = next(u for u in users["users"] if u["name"] == url.username)
    assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    raw_hash = base64.b64decode(user["password_hash"])
    salt, digest = raw_hash[:4], raw_hash[4:]
    assert hashlib.sha256(salt + (url.password or "").encode()).digest() == digest
    assert {"user": url.username, "vhost": "/"}.items() <= users["permissions"][0].items()

    plugins = (INFRA / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins
    assert plugins.strip().endswith("].")

    generated = INFRA / "rabbitmq" / "definitions.json"
    if generated.exists():  # written by `make definitions`; must at least be valid JSON
        assert isinstance(json.loads(generated.read_text()), dict)


def test_prometheus_scrapes_every_process() -> None:
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    targets: set[str] = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets.update(static["targets"])
        for sd in job.get("dns_sd_configs", []):
            targets.update(f"{n}:{sd['port']}" for n in sd["names"])
    assert "gateway:8000" in targets
    assert "rabbitmq:15692" in targets
    for name in _procfile_names():
        if name != "gateway":
            assert f"{name}:9100" in targets, f"{name} is not scraped"


def test_grafana_dashboard_uses_relay_metrics() -> None:
    dashboard = json.loads((INFRA / "grafana" / "dashboards" / "relay.json").read_text())
    exprs = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    )
    for metric in (
        "relay_jobs_processed_total",
        "relay_job_runtime_seconds_bucket",
        "relay_job_wait_seconds_bucket",
        "relay_jobs_in_flight",
        "relay_breaker_open",
        "rabbitmq_detailed_queue_messages_ready",
    ):
        assert metric in exprs, f"dashboard never queries {metric}"
    datasources = yaml.safe_load(
        (INFRA / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uids = {ds["uid"] for ds in datasources["datasources"]}
    for panel in dashboard["panels"]:
        if "datasource" in panel:
            assert panel["datasource"]["uid"] in uids, panel["title"]


def test_ensure_compose_cli_script_is_valid_bash() -> None:
    script = INFRA / "ensure-compose-cli.sh"
    assert os.access(script, os.X_OK), "infra/ensure-compose-cli.sh must be executable"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_image_is_a_variable_defaulting_to_the_official_image() -> None:
    """Users get the official images; a machine that cannot pull names stand-ins instead."""
    text = COMPOSE_FILE.read_text()
    expected = {
        "RABBITMQ_IMAGE": "rabbitmq:",
        "POSTGRES_IMAGE": "postgres:",
        "REDIS_IMAGE": "redis:",
        "MAIL_IMAGE": "axllent/mailpit:",
        "PROMETHEUS_IMAGE": "prom/prometheus:",
        "GRAFANA_IMAGE": "grafana/grafana:",
        "JAEGER_IMAGE": "jaegertracing/all-in-one:",
        "PYTHON_IMAGE": "python:",
        "PROXY_IMAGE": "haproxy:",
    }
    for var, official in expected.items():
        match = re.search(rf"\$\{{{var}:-([^}}]+)\}}", text)
        assert match, f"docker-compose.yml does not read {var}"
        assert match.group(1).startswith(official), f"{var} defaults to {match.group(1)}"
    literal = re.findall(r"^\s+image:\s+(?!\$\{)(?!relay:)(\S+)", text, flags=re.M)
    assert not literal, f"images not behind a variable: {literal}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, flags=re.M)
    assert not re.search(r"^#\s*syntax=", dockerfile, flags=re.M), "would pull a frontend"


def test_local_image_stand_ins_are_never_named_like_official_images() -> None:
    env = (INFRA / "local-images" / "images.env").read_text()
    values = dict(
        line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#")
    )
    assert set(values) >= {
        "PYTHON_IMAGE", "RABBITMQ_IMAGE", "POSTGRES_IMAGE", "REDIS_IMAGE", "MAIL_IMAGE",
        "PROXY_IMAGE",
    }  # fmt: skip
    assert all(value.startswith("relay-local/") for value in values.values()), values
    for script in (
        "local-images/build.sh", "ensure-docker.sh", "test-compose.sh", "rolling-restart.sh"
    ):  # fmt: skip
        result = subprocess.run(["bash", "-n", str(INFRA / script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def _haproxy_setting(config: str, backend: str, keyword: str) -> str:
    """A `default-server` option of one HAProxy backend (its value, as written)."""
    section = config.split(f"\nbackend {backend}\n", 1)[1].split("\n\n", 1)[0]
    match = re.search(rf"^\s+default-server\b.*\s{keyword}\s+(\S+)", section, flags=re.M)
    assert match, f"backend {backend} sets no {keyword}"
    return match.group(1)


def test_the_proxy_is_the_only_way_in_to_gateway_replicas(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    services = compose_services
    proxy = services["proxy"]
    [published] = proxy["ports"]
    assert published["host_ip"] == "127.0.0.1" and str(published["target"]) == "8000"
    assert str(published["published"]) == "8000"  # GATEWAY_HOST_PORT's default
    assert services["gateway"]["deploy"]["replicas"] >= 2
    assert not services["gateway"].get("ports")
    config_mount = f"{INFRA / 'haproxy' / 'haproxy.cfg'}"
    assert any(v["source"] == config_mount for v in proxy["volumes"]), proxy["volumes"]
    assert not re.search(r"\b(curl|wget)\b", _healthcheck_text(proxy))


def test_a_draining_gateway_leaves_the_proxy_before_it_stops_accepting(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    """HAProxy's health check must see /readyz fail (checks every `inter`, out after `fall`
    failures) within the gateway's drain, while the replica still serves."""
    config = (INFRA / "haproxy" / "haproxy.cfg").read_text()
    assert re.search(r"http-check send meth GET uri /readyz\b", config)
    drain = float(compose_services["gateway"]["environment"]["GATEWAY_DRAIN_SECONDS"])
    for backend in ("gateways", "gateways-live"):
        inter = _seconds(_haproxy_setting(config, backend, "inter"))
        fall = int(_haproxy_setting(config, backend, "fall"))
        # One interval to the next check, then `fall` failing ones, with room to spare.
        assert (fall + 1) * inter < drain, f"{backend}: inter {inter}, fall {fall}, drain {drain}"
    timeout = compose_services["gateway"]["healthcheck"]["timeout"]
    assert _seconds(compose_services["proxy"]["stop_grace_period"]) > 30  # hard-stop-after
    assert _seconds(timeout) <= 5


def test_every_app_service_is_restarted_by_make_deploy(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    services = compose_services
    for name in _procfile_names():
        assert services[name]["labels"]["relay.deploy"] == "rolling", name
    assert services["proxy"]["labels"]["relay.deploy"] == "reload"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^deploy:.*\n\tbash infra/rolling-restart\.sh", makefile, flags=re.M)


def test_haproxy_config_lines_are_comments_sections_or_settings() -> None:
    """What HAProxy itself refuses at start (the proxy then restarts forever): a line at
    the margin that opens no section, e.g. a comment missing its `#`."""
    sections = ("global", "defaults", "frontend", "backend", "resolvers", "listen")
    for number, line in enumerate((INFRA / "haproxy" / "haproxy.cfg").read_text().splitlines(), 1):
        if line.strip() and not line.startswith(("#", " ")):
            assert line.split()[0] in sections, f"haproxy.cfg:{number}: {line!r}"
