#!/usr/bin/env bash
# Local PostgreSQL 15 for tests and development, on 127.0.0.1 only.
#
#   deploy/local/postgres.sh start|stop|status|url
#
# Env: ONECARD_PG_PORT (default 25432), ONECARD_LOCAL_STATE (default /var/tmp/onecard-local).
# Data dir: $ONECARD_LOCAL_STATE/pg/data, log: $ONECARD_LOCAL_STATE/pg/postgres.log.
# Run as root, the server runs as the `postgres` OS user (initdb refuses root);
# run as any other user, it runs as that user.
set -euo pipefail

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_PORT="${ONECARD_PG_PORT:-25432}"
PG_HOST=127.0.0.1
STATE_ROOT="${ONECARD_LOCAL_STATE:-/var/tmp/onecard-local}"
PG_STATE="${STATE_ROOT}/pg"
PG_DATA="${PG_STATE}/data"
PG_SOCK="${PG_STATE}/run"
PG_LOG="${PG_STATE}/postgres.log"
START_TIMEOUT=60

DB_USER=onecard
DB_PASS=onecard
DB_NAME=onecard

log() { printf '[postgres] %s\n' "$*" >&2; }
die() { printf '[postgres] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ $EUID -eq 0 ]]; then
  PG_OS_USER=postgres
else
  PG_OS_USER="$(id -un)"
fi

# Run a command as the server's OS user, from a directory it can read.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

url() { printf 'postgresql+asyncpg://%s:%s@%s:%s/%s\n' "$DB_USER" "$DB_PASS" "$PG_HOST" "$PG_PORT" "$DB_NAME"; }

ensure_binaries() {
  if [[ -x "${PG_BIN}/postgres" && -x "${PG_BIN}/initdb" && -x "${PG_BIN}/pg_ctl" ]] && [[ -x "${PG_BIN}/psql" ]]; then
    return 0
  fi
  [[ $EUID -eq 0 ]] || die "PostgreSQL ${PG_MAJOR} binaries missing in ${PG_BIN}; install postgresql-${PG_MAJOR} (needs root)"
  log "PostgreSQL ${PG_MAJOR} binaries missing; installing postgresql-${PG_MAJOR} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q "postgresql-${PG_MAJOR}" >&2
  [[ -x "${PG_BIN}/postgres" ]] || die "apt-get install postgresql-${PG_MAJOR} did not provide ${PG_BIN}/postgres"
}

ensure_os_user() {
  if [[ $EUID -eq 0 ]] && ! id "$PG_OS_USER" >/dev/null 2>&1; then
    log "creating OS user ${PG_OS_USER}"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
  fi
}

is_ready() { "${PG_BIN}/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -d postgres -t 2 >/dev/null 2>&1; }

# pg_ctl status: 0 running, 3 not running, 4 no/invalid data dir.
is_running() { [[ -f "${PG_DATA}/PG_VERSION" ]] && as_pg "${PG_BIN}/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

init_cluster() {
  mkdir -p "$STATE_ROOT"
  chmod 755 "$STATE_ROOT" 2>/dev/null || true   # the postgres user must be able to traverse it
  mkdir -p "$PG_STATE" "$PG_SOCK"
  if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER": "$PG_STATE" "$PG_SOCK"; fi
  chmod 755 "$PG_STATE"

  if [[ ! -f "${PG_DATA}/PG_VERSION" ]]; then
    log "initializing data dir ${PG_DATA}"
    [[ -d "$PG_DATA" ]] && [[ -n "$(ls -A "$PG_DATA" 2>/dev/null)" ]] \
      && die "${PG_DATA} exists, is not empty and holds no cluster; remove it by hand"
    local pwfile
    pwfile="$(mktemp "${PG_STATE}/.pw.XXXXXX")"
    printf '%s\n' "$DB_PASS" >"$pwfile"
    if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER": "$pwfile"; fi
    # Superuser is `onecard` itself (password auth over TCP); the unix socket (private dir) trusts local OS users.
    if ! as_pg "${PG_BIN}/initdb" -D "$PG_DATA" -U "$DB_USER" --pwfile="$pwfile" \
         --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"${PG_STATE}/initdb.log" 2>&1; then
      rm -f "$pwfile"
      tail -n 30 "${PG_STATE}/initdb.log" >&2
      die "initdb failed (full log: ${PG_STATE}/initdb.log)"
    fi
    rm -f "$pwfile"
  fi

  # Settings for tests/benchmarks on a small box; rewritten on each start so edits here take effect.
  local conf="${PG_DATA}/onecard.conf"
  cat >"$conf" <<EOF
# Managed by deploy/local/postgres.sh -- rewritten on every start.
listen_addresses = '${PG_HOST}'
unix_socket_directories = '${PG_SOCK}'
max_connections = 300
shared_buffers = 256MB
fsync = on
full_page_writes = on
# synchronous_commit stays at its default (on)
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %u@%d '
EOF
  if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER": "$conf"; fi
  grep -q "^include_if_exists = 'onecard.conf'" "${PG_DATA}/postgresql.conf" \
    || printf "\ninclude_if_exists = 'onecard.conf'\n" >>"${PG_DATA}/postgresql.conf"
}

psql_admin() {
  as_pg "${PG_BIN}/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U "$DB_USER" -d postgres
}

provision() {
  # Idempotent: role (superuser, for tests) and database.
  psql_admin >/dev/null <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${DB_USER}') THEN
    CREATE ROLE ${DB_USER} LOGIN SUPERUSER PASSWORD '${DB_PASS}';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${DB_NAME}') \gexec
EOF
}

port_in_use() { (exec 3<>"/dev/tcp/${PG_HOST}/${PG_PORT}") 2>/dev/null; }

cmd_start() {
  if is_running && is_ready; then
    log "already running on ${PG_HOST}:${PG_PORT} (data ${PG_DATA})"
    return 0
  fi
  ensure_binaries
  ensure_os_user
  init_cluster
  if ! is_running; then
    port_in_use && die "port ${PG_PORT} on ${PG_HOST} is already taken by another process (set ONECARD_PG_PORT)"
    log "starting PostgreSQL ${PG_MAJOR} on ${PG_HOST}:${PG_PORT}"
    touch "$PG_LOG"
    if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER": "$PG_LOG"; fi
    # pg_ctl -w waits (up to the timeout) until the postmaster reports ready, or fails if it exits.
    if ! as_pg "${PG_BIN}/pg_ctl" start -w -t "$START_TIMEOUT" -D "$PG_DATA" -l "$PG_LOG" \
         -o "-p ${PG_PORT} -k ${PG_SOCK}" >/dev/null 2>"${PG_STATE}/pg_ctl.err"; then
      cat "${PG_STATE}/pg_ctl.err" >&2
      log "--- last lines of ${PG_LOG} ---"
      tail -n 40 "$PG_LOG" >&2 || true
      die "PostgreSQL did not start within ${START_TIMEOUT}s (log: ${PG_LOG})"
    fi
  else
    log "server process exists but is not ready yet; waiting"
  fi
  local deadline=$((SECONDS + START_TIMEOUT))
  until is_ready; do
    if ((SECONDS >= deadline)); then
      log "--- last lines of ${PG_LOG} ---"
      tail -n 40 "$PG_LOG" >&2 || true
      die "PostgreSQL not ready on ${PG_HOST}:${PG_PORT} after ${START_TIMEOUT}s"
    fi
    if ! is_running; then
      log "--- last lines of ${PG_LOG} ---"
      tail -n 40 "$PG_LOG" >&2 || true
      die "PostgreSQL exited during startup"
    fi
    sleep 0.3
  done
  provision
  # Proves the password path the application uses.
  PGPASSWORD="$DB_PASS" "${PG_BIN}/psql" -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" -tAc 'select 1' >/dev/null \
    || die "server is up but ${DB_USER}@${PG_HOST}:${PG_PORT}/${DB_NAME} login failed"
  log "ready: $(url)"
}

cmd_stop() {
  if ! is_running; then
    log "not running"
    return 0
  fi
  log "stopping"
  as_pg "${PG_BIN}/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null \
    || { log "fast shutdown timed out; trying immediate"; as_pg "${PG_BIN}/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 30 >/dev/null; }
  log "stopped"
}

cmd_status() { report_status is_running is_ready "${PG_HOST}:${PG_PORT}" "data ${PG_DATA}, log ${PG_LOG}"; }

# shellcheck source=deploy/local/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
run_command "$0" url "${1:-}"
