#!/usr/bin/env bash
# Build the relay-local/* stand-ins for the official images, from Debian's packages on a
# debootstrap base, for a machine that cannot pull from a public image registry.
#
#   bash infra/local-images/build.sh            # every image (what `make local-images` runs)
#   bash infra/local-images/build.sh redis      # only some of them
#
# Then run the stack on them with the variables of infra/local-images/images.env:
#   docker compose --env-file infra/local-images/images.env up --build
#
# Each stand-in runs the way the official image does for docker-compose.yml and for the
# tests' testcontainers (same env vars, ports, data directories, health checks). They are
# tagged relay-local/<name>, never with an official name, so nothing mistakes one for the
# other. Needs root (debootstrap), debootstrap, and a Docker engine; images that already
# exist are kept unless REBUILD=1.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
BASE_IMAGE="${LOCAL_BASE_IMAGE:-relay-local/debian:bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
REBUILD="${REBUILD:-0}"

# name -> tag, in the order they are built (python first: the project image needs it).
declare -A TAGS=(
    [python]="relay-local/python:3.11"
    [rabbitmq]="relay-local/rabbitmq:3.10-management"
    [postgres]="relay-local/postgres:15"
    [redis]="relay-local/redis:7.0"
    [mailpit]="relay-local/mailpit:1"
    [prometheus]="relay-local/prometheus:2.42"
    [haproxy]="relay-local/haproxy:2.6"
)
ORDER=(python rabbitmq postgres redis mailpit prometheus haproxy)

log() { echo "local-images: $*" >&2; }

# BuildKit without pulling a frontend: `docker buildx` where it exists; otherwise the
# engine's built-in BuildKit through a client that still has it (Debian's docker 20.10).
docker_build() {
    if docker buildx version >/dev/null 2>&1; then
        docker buildx build --load "$@"
    else
        local client=docker
        [ -x /usr/bin/docker ] && client=/usr/bin/docker
        DOCKER_BUILDKIT=1 "$client" build "$@"
    fi
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_base() {
    if [ "$REBUILD" != 1 ] && have_image "$BASE_IMAGE"; then
        return 0
    fi
    command -v debootstrap >/dev/null 2>&1 || {
        log "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    }
    local root
    root="$(mktemp -d)"
    # shellcheck disable=SC2064  # expand now: the directory to remove is this one
    trap "rm -rf '$root'" RETURN
    log "debootstrap bookworm (minbase) into $root"
    debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 \
        || { cat "$root.log" >&2; rm -f "$root.log"; return 1; }
    rm -f "$root.log"
    # What an image never needs: package caches and lists (apt-get update refetches them),
    # documentation and translations. Keep dpkg's own state.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/*
    # Keep images small from here on too: no docs or translations from later packages,
    # no recommended packages.
    mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
        'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
        >"$root/etc/dpkg/dpkg.cfg.d/01-relay-slim"
    printf '%s\n' 'APT::Install-Recommends "false";' 'APT::Install-Suggests "false";' \
        >"$root/etc/apt/apt.conf.d/01-relay-slim"
    log "importing $BASE_IMAGE"
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
}

# The python stand-in trusts what this machine trusts (the CAs added under
# /usr/local/share/ca-certificates), so `uv` inside an image build reaches PyPI through the
# machine's TLS proxy, if it has one. A locally built image only; never pushed anywhere.
stage_local_cas() {
    local dest="$here/python/local-ca"
    rm -rf "$dest" && mkdir -p "$dest"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$dest/"
    fi
}

build_one() {
    local name="$1" tag="${TAGS[$1]}"
    if [ "$REBUILD" != 1 ] && have_image "$tag"; then
        log "$tag exists (REBUILD=1 to rebuild)"
        return 0
    fi
    [ "$name" = python ] && stage_local_cas
    log "building $tag"
    local started=$SECONDS
    docker_build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$here/$name"
    log "$tag built in $((SECONDS - started)) s"
}

main() {
    local wanted=("$@")
    [ ${#wanted[@]} -eq 0 ] && wanted=("${ORDER[@]}")
    for name in "${wanted[@]}"; do
        [ -n "${TAGS[$name]:-}" ] || { log "unknown image '$name' (one of: ${ORDER[*]})"; exit 2; }
    done
    docker info >/dev/null 2>&1 || { log "no Docker engine answers (see infra/ensure-docker.sh)"; exit 1; }
    build_base
    for name in "${wanted[@]}"; do
        build_one "$name"
    done
}

main "$@"
