#!/bin/sh
# As the official haproxy image's entrypoint: options alone run haproxy with them, and
# haproxy itself runs in master-worker mode (-W: SIGUSR2 reloads the configuration with
# new workers) in the foreground (-db), so the container lives as long as the master.
set -e
if [ "${1#-}" != "$1" ]; then
    set -- haproxy "$@"
fi
if [ "$1" = haproxy ]; then
    shift
    set -- haproxy -W -db "$@"
fi
exec "$@"
