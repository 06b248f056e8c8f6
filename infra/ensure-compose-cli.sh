#!/usr/bin/env bash
# Make sure a Docker Compose CLI exists, so tests/integration/test_compose.py can validate
# docker-compose.yml (`config` needs no Docker engine). Idempotent and quiet: does nothing
# when `docker-compose` or the `docker compose` plugin is already there; otherwise installs
# Debian's docker-compose package with apt-get (needs root, as on CI).
set -euo pipefail

have_compose() {
    command -v docker-compose >/dev/null 2>&1 && return 0
    command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1 && return 0
    return 1
}

if have_compose; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-compose-cli: no docker-compose / docker compose, and no apt-get to install it" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "ensure-compose-cli: installing docker-compose needs root (or sudo)" >&2
        exit 1
    fi
fi

echo "ensure-compose-cli: installing docker-compose (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Try straight away (the package lists may be current); refresh them only if that fails.
if ! $SUDO apt-get install -y -qq --no-install-recommends docker-compose >"$log" 2>&1; then
    if ! { $SUDO apt-get update -qq && \
           $SUDO apt-get install -y -qq --no-install-recommends docker-compose; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "ensure-compose-cli: apt-get could not install docker-compose" >&2
        exit 1
    fi
fi

have_compose || { echo "ensure-compose-cli: docker-compose still missing after install" >&2; exit 1; }
