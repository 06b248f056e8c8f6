#!/usr/bin/env bash
# `make deploy`: restart every Relay container of the compose stack, one at a time, without
# a gap: each new container is ready before its old one is stopped, and the old one drains.
#
#   bash infra/rolling-restart.sh                 workers, the gateway, then the proxy
#   bash infra/rolling-restart.sh gateway sms     only these services
#   bash infra/rolling-restart.sh --no-build ...  the images as they are (no `compose build`)
#
# Which services and how come from their `relay.deploy` label in docker-compose.yml:
#   rolling  (the Relay processes) per container: `up --scale S=N+1 --no-recreate` starts a
#            new one with the current image and configuration; once its own health check
#            passes (and, for the gateway, the proxy routes to it), the old one gets SIGTERM
#            and `stop_grace_period` to finish: workers cancel their consumers and finish
#            the jobs in flight, a gateway answers /readyz 503 while still serving until
#            the proxy has left it (GATEWAY_DRAIN_SECONDS), then finishes its requests.
#   reload   (the proxy, last) reloaded in place (SIGUSR2: new HAProxy workers take over
#            the listening socket, the old ones finish their connections), or recreated
#            when its image or definition changed: the published port has one owner, so
#            that leaves a gap of about a second, which is said.
#
# It drives `docker compose` as you would: COMPOSE_FILE, COMPOSE_PROJECT_NAME,
# COMPOSE_PROFILES and .env apply; COMPOSE_ARGS adds arguments (e.g. "-p relay -f a.yml").
# READY_TIMEOUT (300 s) bounds the wait for a new container; past it, or if the new one
# exits, the new one is removed, the old ones keep running and the script fails.
#
# Prints one line per container, for people and for load tests reading the timings:
#   rolling-restart: service=gateway old=relay-gateway-1 new=relay-gateway-3
#     started=<epoch s> ready_s=8.1 routed_s=1.2 stop_s=6.3 total_s=15.9
set -euo pipefail
cd "$(dirname "$0")/.."
# The release stamped on the images built here (org.opencontainers.image.version).
export RELAY_VERSION="${RELAY_VERSION:-$(cat VERSION)}"

READY_TIMEOUT="${READY_TIMEOUT:-300}"
# Where the proxy's runtime API listens inside its container (infra/haproxy/haproxy.cfg).
PROXY_API_PORT=9999
PROXY_BACKEND=gateways
# The proxy's server-state-file: read by the new workers of a reload.
PROXY_STATE_FILE=/var/lib/haproxy/server-state

log() { echo "rolling-restart: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# shellcheck disable=SC2086  # COMPOSE_ARGS is a list of words on purpose
compose() { docker compose ${COMPOSE_ARGS:-} "$@"; }

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

running_containers() { # service -> its running container ids, oldest first
    compose ps --quiet --status running "$1" | xargs -r docker inspect \
        --format '{{.Created}} {{.Id}}' | sort | awk '{ print $2 }'
}

name_of() { docker inspect --format '{{.Name}}' "$1" | sed 's#^/##'; }

deploy_label() { # service -> its relay.deploy label ("" when it has none)
    local container
    container="$(running_containers "$1" | head -n 1)"
    [ -n "$container" ] || return 0
    docker inspect --format '{{index .Config.Labels "relay.deploy"}}' "$container"
}

# The container's own health check (its compose `healthcheck`), run now rather than at
# its next interval; a container without one is ready once running.
passes_health_check() {
    local container="$1" kind
    local -a check=()
    mapfile -d '' -t check < <(docker inspect --format \
        '{{if .Config.Healthcheck}}{{range .Config.Healthcheck.Test}}{{.}}{{"\x00"}}{{end}}{{end}}' \
        "$container")
    kind="${check[0]:-NONE}"
    case "$kind" in
        CMD) docker exec "$container" "${check[@]:1}" >/dev/null 2>&1 ;;
        CMD-SHELL) docker exec "$container" sh -c "${check[1]}" >/dev/null 2>&1 ;;
        *) true ;;
    esac
}

wait_ready() { # container -> 0 once running and its health check passes
    local container="$1" deadline=$((SECONDS + READY_TIMEOUT)) state
    while [ "$SECONDS" -lt "$deadline" ]; do
        state="$(docker inspect --format '{{.State.Status}}' "$container" 2>/dev/null || echo gone)"
        case "$state" in
            running) passes_health_check "$container" && return 0 ;;
            exited|dead|gone) log "$(name_of "$container" 2>/dev/null || echo "$container") is $state"; return 1 ;;
        esac
        sleep 1
    done
    log "$(name_of "$container") not ready within ${READY_TIMEOUT} s"
    return 1
}

# ------------------------------------------------------------------ the proxy's view

proxy_container() { running_containers proxy | tail -n 1; }

proxy_api() { # command [file in the container] -> the answer of the proxy's runtime API
    local proxy
    proxy="$(proxy_container)"
    [ -n "$proxy" ] || return 1
    docker exec "$proxy" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_API_PORT \
        && printf '%s\n' '$1' >&3 && cat <&3 >${2:-/dev/stdout}"
}

routed_to() { # container -> 0 when the proxy has it UP in its backend
    local address
    address="$(docker inspect --format \
        '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1")"
    proxy_api "show stat" | awk -F, -v backend="$PROXY_BACKEND" -v addresses="$address" '
        NR == 1 { for (i = 1; i <= NF; i++) column[$i] = i; next }
        $1 == backend {
            split($(column["addr"]), where, ":")
            if (index(" " addresses, " " where[1] " ") && $(column["status"]) ~ /^UP/) found = 1
        }
        END { exit !found }'
}

wait_routed() {
    local container="$1" deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        routed_to "$container" && return 0
        sleep 0.5
    done
    log "the proxy did not route to $(name_of "$container") within 60 s"
    return 1
}

# ------------------------------------------------------------------ one container

replace_container() { # service old-container
    local service="$1" old="$2" started ready routed stopped new old_name new_name
    old_name="$(name_of "$old")"
    started="$(now)"
    local -a before=()
    mapfile -t before < <(running_containers "$service")
    # A stopped container of the service would be started again instead of a new one.
    compose rm --force "$service" >/dev/null 2>&1 || true
    compose up --detach --no-deps --no-recreate --no-build --quiet-pull \
        --scale "$service=$((${#before[@]} + 1))" "$service" >/dev/null 2>&1 \
        || fail "$service: docker compose up --scale $service=$((${#before[@]} + 1)) failed"
    new="$(comm -13 <(printf '%s\n' "${before[@]}" | sort) \
        <(running_containers "$service" | sort) | head -n 1)"
    [ -n "$new" ] && [ "$new" != "$old" ] || fail "$service: no new container started"
    new_name="$(name_of "$new")"
    if ! wait_ready "$new"; then
        docker logs --tail 40 "$new" >&2 || true
        docker rm --force "$new" >/dev/null 2>&1 || true
        fail "$service: $new_name never became ready; $old_name and the others keep running"
    fi
    ready="$(now)"
    routed="$ready"
    if [ "$service" = gateway ] && [ -n "$(proxy_container)" ]; then
        wait_routed "$new" || fail "$service: $new_name is ready but not in the proxy's rotation"
        routed="$(now)"
    fi
    # SIGTERM, then SIGKILL after the container's stop_grace_period (compose set it).
    docker stop "$old" >/dev/null
    stopped="$(now)"
    docker rm "$old" >/dev/null
    echo "rolling-restart: service=$service old=$old_name new=$new_name" \
        "started=$(printf '%.3f' "$started") ready_s=$(seconds "$started" "$ready")" \
        "routed_s=$(seconds "$ready" "$routed") stop_s=$(seconds "$routed" "$stopped")" \
        "total_s=$(seconds "$started" "$stopped")"
}

restart_rolling() {
    local service="$1" container
    local -a olds=()
    mapfile -t olds < <(running_containers "$service")
    for container in "${olds[@]}"; do
        replace_container "$service" "$container"
    done
}

# ------------------------------------------------------------------ the proxy

out_of_date() { # container service -> 0 when compose would recreate it
    local container="$1" service="$2" wanted_hash running_hash wanted_image running_image
    wanted_hash="$(compose config --hash "$service" | awk '{ print $2 }')"
    running_hash="$(docker inspect --format \
        '{{index .Config.Labels "com.docker.compose.config-hash"}}' "$container")"
    wanted_image="$(docker image inspect --format '{{.Id}}' \
        "$(compose config --images "$service" | head -n 1)" 2>/dev/null || echo missing)"
    running_image="$(docker inspect --format '{{.Image}}' "$container")"
    [ "$wanted_hash" != "$running_hash" ] || [ "$wanted_image" != "$running_image" ]
}

restart_reload() {
    local service="$1" container started worker_before worker_after deadline name
    container="$(running_containers "$service" | tail -n 1)"
    name="$(name_of "$container")"
    started="$(now)"
    if out_of_date "$container" "$service"; then
        log "$service: image or definition changed: recreating it (a gap of about a second)"
        compose up --detach --no-deps --no-build --quiet-pull "$service" >/dev/null 2>&1 \
            || fail "$service: docker compose up failed"
        container="$(running_containers "$service" | tail -n 1)"
        wait_ready "$container" || fail "$service: the recreated $service is not ready"
    else
        worker_before="$(proxy_api "show info" | awk -F': ' '$1 == "Pid" { print $2 }')"
        # The new workers start from the current addresses and states, not from nothing.
        proxy_api "show servers state" "$PROXY_STATE_FILE"
        docker kill --signal USR2 "$container" >/dev/null
        deadline=$((SECONDS + 60))
        while :; do
            worker_after="$(proxy_api "show info" 2>/dev/null | awk -F': ' '$1 == "Pid" { print $2 }' || true)"
            if [ -n "$worker_after" ] && [ "$worker_after" != "$worker_before" ] \
                && passes_health_check "$container"; then
                break
            fi
            [ "$SECONDS" -lt "$deadline" ] || fail "$service: no new worker after the reload"
            sleep 0.5
        done
    fi
    echo "rolling-restart: service=$service old=$name new=$(name_of "$container")" \
        "started=$(printf '%.3f' "$started") ready_s=$(seconds "$started" "$(now)")" \
        "routed_s=0.0 stop_s=0.0 total_s=$(seconds "$started" "$(now)")"
}

# ------------------------------------------------------------------ main

main() {
    local build=1 service label began
    local -a wanted=() rolling=() reloading=()
    for arg in "$@"; do
        case "$arg" in
            --no-build) build=0 ;;
            -*) fail "unknown option $arg" ;;
            *) wanted+=("$arg") ;;
        esac
    done
    [ ${#wanted[@]} -gt 0 ] || mapfile -t wanted < <(compose config --services)
    # Consumers before producers: workers first, then the gateway, then the proxy. A job
    # a new gateway publishes then meets workers of its own release.
    for service in "${wanted[@]}"; do
        label="$(deploy_label "$service")"
        case "$label" in
            rolling) [ "$service" = gateway ] || rolling+=("$service") ;;
            reload) reloading+=("$service") ;;
        esac
    done
    for service in "${wanted[@]}"; do
        [ "$service" = gateway ] && [ "$(deploy_label "$service")" = rolling ] \
            && rolling+=("$service")
    done
    [ ${#rolling[@]} -gt 0 ] || [ ${#reloading[@]} -gt 0 ] \
        || fail "no running service to restart (is the stack up? COMPOSE_FILE / -p right?)"
    began=$SECONDS
    if [ "$build" = 1 ] && [ ${#rolling[@]} -gt 0 ]; then
        log "building the images of: ${rolling[*]}"
        compose build "${rolling[@]}" >/dev/null
    fi
    for service in "${rolling[@]}"; do
        restart_rolling "$service"
    done
    for service in "${reloading[@]}"; do
        restart_reload "$service"
    done
    log "done: ${rolling[*]} ${reloading[*]} in $((SECONDS - began)) s"
}

main "$@"
