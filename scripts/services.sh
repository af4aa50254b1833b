#!/usr/bin/env bash
# Brings up what the test suites need on this machine: PostgreSQL (127.0.0.1:5432, trust
# auth, database `test`), NATS with JetStream (127.0.0.1:4222), Varnish, a MediaWiki 1.39
# (Debian's package with PHP's SQLite/intl/mbstring/xml) and Chromium. Starts what is
# installed and stopped; installs what is missing from Debian when permitted (root with
# apt-get, and CASCADE_NO_INSTALL unset), else says what to install. Idempotent and quick
# when everything is up. `npm test` runs it first; `.ci/run` through `npm test`.
set -uo pipefail

log() { echo "[services] $*"; }
missing=()
can_install=0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "${CASCADE_NO_INSTALL:-}" ]; then can_install=1; fi

apt_updated=0
apt_install() {
  if [ "$can_install" = 0 ]; then missing+=("$@"); return 1; fi
  if [ "$apt_updated" = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

# PostgreSQL on 127.0.0.1:5432, trust auth, database `test`.
if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null || apt_install postgresql; then
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    wait_port 5432 && log "PostgreSQL started" || log "PostgreSQL did not start"
  fi
else
  log "PostgreSQL up"
fi
# The tests' database.
if port_open 5432 && command -v psql >/dev/null; then
  [ "$(psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null)" = 1 ] ||
    psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE test' >/dev/null 2>&1 || log "could not create database test"
fi

# NATS with JetStream on 127.0.0.1:4222.
if ! port_open 4222; then
  if [ -x /usr/sbin/nats-server ] || apt_install nats-server; then
    store=/var/lib/nats-server log_file=/var/log/nats-server.log
    [ -w /var/lib ] || { store="${TMPDIR:-/tmp}/cascade-nats"; log_file="$store.log"; }
    mkdir -p "$store"
    (setsid /usr/sbin/nats-server -a 127.0.0.1 -p 4222 -js -sd "$store" -l "$log_file" >/dev/null 2>&1 &)
    wait_port 4222 && log "NATS started" || log "NATS did not start"
  fi
else
  log "NATS up"
fi

# Varnish (the CDN in the change-propagation purge tests; the tests start their own instance).
command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ] || apt_install varnish || true
# A real MediaWiki (Debian's package, PHP CLI with SQLite) for test/mediawiki; the tests install
# throw-away wikis from it into temp dirs and serve them with `php -S`.
mw_missing=()
[ -f /usr/share/mediawiki/maintenance/install.php ] || mw_missing+=(mediawiki)
if command -v php >/dev/null; then
  php_mods=$(php -m)
  for ext in pdo_sqlite:php-sqlite3 intl:php-intl mbstring:php-mbstring xml:php-xml; do
    grep -qix "${ext%%:*}" <<<"$php_mods" || mw_missing+=("${ext#*:}")
  done
else
  mw_missing+=(php-cli php-sqlite3 php-intl php-mbstring php-xml)
fi
if [ "${#mw_missing[@]}" -gt 0 ] && [ "$can_install" = 1 ]; then log "installing ${mw_missing[*]}"; fi
[ "${#mw_missing[@]}" -eq 0 ] || apt_install --no-install-recommends "${mw_missing[@]}" || true
[ -f /usr/share/mediawiki/includes/Defines.php ] && command -v php >/dev/null &&
  log "MediaWiki $(sed -n "s/.*MW_VERSION', '\([^']*\)'.*/\1/p" /usr/share/mediawiki/includes/Defines.php) on $(php -r 'echo PHP_VERSION;')"
# wrk is only needed by the benchmarks, not by the tests.
# Chromium (Debian's) for the dashboard's browser test (test/ops), driven by playwright-core.
[ -x /usr/bin/chromium ] || apt_install --no-install-recommends chromium || true

if [ "${#missing[@]}" -gt 0 ]; then
  log "missing (tests that need them skip locally and fail under CI=true): ${missing[*]}"
  log "install with: sudo apt-get install --no-install-recommends ${missing[*]}"
fi
exit 0
