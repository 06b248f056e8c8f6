#!/usr/bin/env bash
# Make sure PHP with Debian's Laravel 8.83 and php-amqplib is installed, so tests/laravel/
# can build job payloads with Laravel's own code and publish them as the Laravel RabbitMQ
# driver does (the Laravel bridge tests). Idempotent and quiet: does nothing when all three
# are there; otherwise installs them with apt-get (needs root, as on CI).
set -euo pipefail

PACKAGES=(php-cli php-laravel-framework php-amqplib)
# Where Debian's packages put their autoloaders (dpkg -L php-laravel-framework php-amqplib).
LARAVEL_AUTOLOAD=/usr/share/php/Illuminate/autoload.php
AMQPLIB_AUTOLOAD=/usr/share/php/PhpAmqpLib/autoload.php

have_php() {
    command -v php >/dev/null 2>&1 && [ -f "$LARAVEL_AUTOLOAD" ] && [ -f "$AMQPLIB_AUTOLOAD" ]
}

if have_php; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-php: PHP with Laravel and php-amqplib is missing, and there is no apt-get to install ${PACKAGES[*]}" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "ensure-php: installing ${PACKAGES[*]} needs root (or sudo)" >&2
        exit 1
    fi
fi

echo "ensure-php: installing ${PACKAGES[*]} (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Try straight away (the package lists may be current); refresh them only if that fails.
if ! $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$log" 2>&1; then
    if ! { $SUDO apt-get update -qq && \
           $SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "ensure-php: apt-get could not install ${PACKAGES[*]}" >&2
        exit 1
    fi
fi

have_php || {
    echo "ensure-php: installed ${PACKAGES[*]}, but php, $LARAVEL_AUTOLOAD or $AMQPLIB_AUTOLOAD is still missing" >&2
    exit 1
}
