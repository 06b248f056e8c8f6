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
exec bash "$(dirname "$0")/docker-suite.sh" compose "$@"
