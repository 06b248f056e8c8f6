#!/usr/bin/env bash
# `make test-cluster`: the stack on a real three-node RabbitMQ cluster (the `cluster`
# compose profile, docker-compose.cluster.yml), broken on purpose.
#
# The same engine and images as `make test-compose` (infra/ensure-docker.sh,
# infra/choose-images.sh), then tests/cluster/: one compose project on free 127.0.0.1
# ports, first on one node (the throughput yardstick), then on the three-node cluster: a
# node killed mid-campaign, a node cut off the network for 30 s. The project is removed
# with its volumes at the end (logs kept under tests/artifacts/ when anything failed); the
# measured figures are printed and kept in tests/artifacts/cluster-figures.json.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
log() { echo "test-cluster: $* ($((SECONDS - started)) s)" >&2; }

bash infra/ensure-docker.sh
# shellcheck source=choose-images.sh
. infra/choose-images.sh
choose_images
log "images ready"

status=0
RELAY_TEST_CLUSTER=1 .venv/bin/python -m pytest -p no:cacheprovider -o addopts="" \
    --timeout 900 -v tests/cluster "$@" || status=$?
log "done, pytest exit $status"
if [ "$status" -eq 5 ]; then
    echo "test-cluster: no test ran" >&2
    exit 1
fi
exit "$status"
