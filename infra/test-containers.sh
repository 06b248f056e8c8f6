#!/usr/bin/env bash
# `make test-containers`: the integration suite on RabbitMQ, Postgres and Redis that the
# tests start themselves with testcontainers, from the compose file's image variables
# (official images, or the relay-local/* stand-ins where those cannot be pulled). The
# URL variables are unset, so nothing reaches the machine's own services.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

bash infra/ensure-docker.sh
# shellcheck source=choose-images.sh
. infra/choose-images.sh
choose_images

remove_leftovers() {
    # Containers of an earlier run that was killed before it could stop them.
    local ids
    ids="$(docker ps -aq --filter label=relay-tests=containers)"
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
}
remove_leftovers
trap remove_leftovers EXIT

status=0
env -u RABBITMQ_URL -u DATABASE_URL -u REDIS_URL -u RABBITMQ_MANAGEMENT_URL \
    RELAY_TEST_SERVICES=containers \
    .venv/bin/python -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-3}" --dist loadfile \
    tests/integration "$@" || status=$?
echo "test-containers: pytest exit $status ($((SECONDS - started)) s)" >&2
if [ "$status" -eq 5 ]; then
    echo "test-containers: no test ran" >&2
    exit 1
fi
exit "$status"
