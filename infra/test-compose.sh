#!/usr/bin/env bash
# `make test-compose`: the real docker-compose stack, built and driven the way users run it.
#
# 1. a Docker engine and `docker compose` v2 (infra/ensure-docker.sh installs and starts
#    them where missing);
# 2. the images (infra/choose-images.sh): the official ones when they are here or can be
#    pulled, otherwise the relay-local/* stand-ins (infra/local-images/build.sh), named
#    through the compose file's image variables. RELAY_IMAGES=official|local forces one;
# 3. tests/compose/: `docker compose up --build --wait` on free 127.0.0.1 ports under a
#    unique project name, the scenarios, then `down -v` (logs kept under tests/artifacts/
#    when anything failed).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
log() { echo "test-compose: $* ($((SECONDS - started)) s)" >&2; }

bash infra/ensure-docker.sh
# shellcheck source=choose-images.sh
. infra/choose-images.sh
choose_images
log "images ready"

status=0
RELAY_TEST_COMPOSE=1 .venv/bin/python -m pytest -p no:cacheprovider -o addopts="" \
    --timeout 1500 -v tests/compose "$@" || status=$?
log "done, pytest exit $status"
if [ "$status" -eq 5 ]; then
    echo "test-compose: no test ran" >&2
    exit 1
fi
exit "$status"
