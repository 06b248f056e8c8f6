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
exec bash "$(dirname "$0")/docker-suite.sh" cluster "$@"
