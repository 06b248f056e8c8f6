#!/usr/bin/env bash
# A pytest suite that drives real containers: `bash infra/docker-suite.sh compose|cluster
# [pytest args]` (what infra/test-compose.sh and infra/test-cluster.sh run).
#
# The engine (infra/ensure-docker.sh installs and starts it where missing), the images
# (infra/choose-images.sh: the official ones when they are here or can be pulled, else the
# relay-local/* stand-ins; RELAY_IMAGES=official|local forces one), then tests/<suite>/
# with RELAY_TEST_<SUITE>=1, which is what lets that folder's tests be collected.
set -euo pipefail
cd "$(dirname "$0")/.."
# The release stamped on the images built here (org.opencontainers.image.version).
export RELAY_VERSION="${RELAY_VERSION:-$(cat VERSION)}"

suite="$1"
shift
case "$suite" in
    compose) timeout=1500 ;;
    cluster) timeout=900 ;;
    *) echo "docker-suite: unknown suite '$suite' (compose or cluster)" >&2; exit 2 ;;
esac

started=$SECONDS
log() { echo "test-$suite: $* ($((SECONDS - started)) s)" >&2; }

bash infra/ensure-docker.sh
# shellcheck source=choose-images.sh
. infra/choose-images.sh
choose_images
log "images ready"

status=0
env "RELAY_TEST_${suite^^}=1" .venv/bin/python -m pytest -p no:cacheprovider -o addopts="" \
    --timeout "$timeout" -v "tests/$suite" "$@" || status=$?
log "done, pytest exit $status"
if [ "$status" -eq 5 ]; then
    echo "test-$suite: no test ran" >&2
    exit 1
fi
exit "$status"
