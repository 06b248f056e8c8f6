#!/usr/bin/env bash
# Sourced by infra/test-compose.sh and infra/test-containers.sh: pick the images the stack
# runs on and export the compose file's image variables for them.
#
# The official images when they are here or can be pulled; otherwise the relay-local/*
# stand-ins, built from Debian's packages (infra/local-images/build.sh) and named by
# infra/local-images/images.env. RELAY_IMAGES=official|local forces one set. Variables
# already set in the environment (PYTHON_IMAGE=... etc.) are kept as they are.

RELAY_OFFICIAL_IMAGES=(python:3.11-slim rabbitmq:4.1-management postgres:17 redis:7.4
                       axllent/mailpit:v1.22 prom/prometheus:v3.5.0 haproxy:3.2)

official_images_available() {
    local image
    for image in "${RELAY_OFFICIAL_IMAGES[@]}"; do
        docker image inspect "$image" >/dev/null 2>&1 && continue
        timeout 300 docker pull --quiet "$image" >/dev/null 2>&1 || return 1
    done
}

choose_images() {
    local use_local
    case "${RELAY_IMAGES:-auto}" in
        official) use_local=0 ;;
        local) use_local=1 ;;
        auto) if official_images_available; then use_local=0; else use_local=1; fi ;;
        *) echo "choose-images: RELAY_IMAGES must be official, local or auto" >&2; return 2 ;;
    esac
    if [ "$use_local" = 0 ]; then
        echo "choose-images: the official images" >&2
        return 0
    fi
    echo "choose-images: official images cannot be pulled here; relay-local/* stand-ins" >&2
    bash "$(dirname "${BASH_SOURCE[0]}")/local-images/build.sh"
    local line name
    while IFS= read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        name="${line%%=*}"
        [ -n "${!name:-}" ] || export "$line"
    done <"$(dirname "${BASH_SOURCE[0]}")/local-images/images.env"
}
