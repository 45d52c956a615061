#!/usr/bin/env bash
# PgBouncer in transaction mode in front of the private cluster (scripts/pg.sh must be up).
#   eval "$(scripts/pgbouncer.sh up)"   -> starts it; prints DATABASE_URL through the pooler
#   scripts/pgbouncer.sh down
# Installs pgbouncer with apt when missing. Runs as the postgres OS user (it refuses root).
set -euo pipefail
REPO_ID=$(cd "$(dirname "$0")/.." && pwd | cksum | cut -d' ' -f1)
STATE=${USEBETTER_CACHE:-/var/tmp/usebetter-rs}/pgbouncer-$REPO_ID

down() {
  if [ -f "$STATE/pgbouncer.pid" ]; then
    kill "$(cat "$STATE/pgbouncer.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$STATE/pgbouncer.pid" ] || break; sleep 0.1; done
  fi
  rm -rf "$STATE"
}

up() {
  : "${PGPORT:?start the cluster first: eval \"\$(scripts/pg.sh up)\"}"
  if ! command -v pgbouncer >/dev/null; then
    echo "pgbouncer.sh: installing pgbouncer" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  fi
  down
  mkdir -p "$STATE"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$STATE/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PGPORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $STATE/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 4
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
pidfile = $STATE/pgbouncer.pid
logfile = $STATE/pgbouncer.log
INI
  # The roles the test suites log in as (see scripts/pg.sh and js-tests).
  printf '"app" "app"\n"rls_owner" "owner"\n"bypasser" "bypasser"\n' >"$STATE/userlist.txt"
  chown -R postgres:postgres "$STATE"
  if [ "$(id -u)" = 0 ]; then
    (cd /tmp && runuser -u postgres -- pgbouncer -d "$STATE/pgbouncer.ini")
  else
    pgbouncer -d "$STATE/pgbouncer.ini"
  fi
  for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
  done
  echo "export PGBOUNCER_PORT='$port'"
  echo "export DATABASE_URL='postgres://app:app@127.0.0.1:$port/app'"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/pgbouncer.sh up|down" >&2; exit 2 ;;
esac
