#!/bin/sh
# What the official image's entrypoint does that our compose file and testcontainers rely
# on: the default user and password from the environment. Written into conf.d, where a
# mounted config (docker-compose.yml's 20-relay.conf) still overrides it; a node that
# imports definitions at boot ignores the default user, as with the official image.
set -eu
conf=/etc/rabbitmq/conf.d/05-default-user.conf
{
    echo "# written by docker-entrypoint.sh from RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS"
    echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
    echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
    echo "loopback_users = none"
} >"$conf" 2>/dev/null || true  # a read-only /etc/rabbitmq keeps what it has
if [ ! -f "$HOME/.erlang.cookie" ]; then
    # CLI tools (rabbitmq-diagnostics in the health check) and the node share this cookie.
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$HOME/.erlang.cookie"
    chmod 600 "$HOME/.erlang.cookie"
fi
if [ "${1:-}" = rabbitmq-server ]; then
    shift
    exec /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi
exec "$@"
