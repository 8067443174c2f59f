#!/usr/bin/env bash
# Start/stop/inspect all local servers (PostgreSQL + Kafka) used by tests and development.
#
#   deploy/local/servers.sh start|stop|status|env
#
# `start` (and `env`) print, as the last lines on stdout, the exports tests read:
#   export ONECARD_TEST_DATABASE_URL=...
#   export ONECARD_TEST_KAFKA_BOOTSTRAP=...
# All progress messages go to stderr, so `eval "$(deploy/local/servers.sh start)"` works.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PG="${SCRIPT_DIR}/postgres.sh"
KAFKA="${SCRIPT_DIR}/kafka.sh"

print_env() {
  printf 'export ONECARD_TEST_DATABASE_URL=%s\n' "$("$PG" url)"
  printf 'export ONECARD_TEST_KAFKA_BOOTSTRAP=%s\n' "$("$KAFKA" bootstrap)"
}

# One start or stop of a server at a time: two checkouts starting the servers at once would format
# and start the same Kafka twice, and one of them fails half-way. `-o`: the started server does
# not inherit the lock.
LOCKFILE="${ONECARD_LOCAL_STATE:-/var/tmp/onecard-local}/servers.lock"
locked() { mkdir -p "$(dirname "$LOCKFILE")"; flock -o "$LOCKFILE" "$@"; }

case "${1:-}" in
  start)
    locked "$PG" start
    locked "$KAFKA" start
    print_env
    ;;
  stop)
    rc=0
    locked "$KAFKA" stop || rc=$?
    locked "$PG" stop || rc=$?
    exit "$rc"
    ;;
  status)
    rc=0
    "$PG" status || rc=1
    "$KAFKA" status || rc=1
    exit "$rc"
    ;;
  env)
    print_env
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
