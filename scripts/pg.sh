#!/usr/bin/env bash
# Private PostgreSQL cluster for tests and the demo.
#   scripts/pg.sh up    -> initdb + start on a free port; prints the connection env (eval it)
#   scripts/pg.sh env   -> prints the connection env of the running cluster
#   scripts/pg.sh down  -> stop it (by data directory) and delete it
# Installs postgresql with apt when the server binaries are missing. Must run as root or as
# the `postgres` OS user; the cluster runs as `postgres`.
set -euo pipefail

# One cluster per checkout, so two clones on one machine never stop each other's cluster.
REPO_ID=$(cd "$(dirname "$0")/.." && pwd | cksum | cut -d' ' -f1)
STATE=${USEBETTER_PG_STATE:-${USEBETTER_CACHE:-/var/tmp/usebetter-rs}/pg-$REPO_ID}
PGDATA="$STATE/data"
PGSOCK="$STATE/sock"
ENVFILE="$STATE/env"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true; }

ensure_installed() {
  local bin; bin=$(find_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "pg.sh: installing postgresql (server binaries not found)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null
  fi
  find_bin
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd /tmp && runuser -u postgres -- "$@"); else (cd /tmp && "$@"); fi
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

down() {
  local bin; bin=$(find_bin)
  if [ -n "$bin" ] && [ -f "$PGDATA/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$STATE"
}

up() {
  local bin port
  bin=$(ensure_installed)
  down
  mkdir -p "$PGDATA" "$PGSOCK"
  chown -R postgres:postgres "$STATE" 2>/dev/null || true
  chmod 700 "$PGDATA"
  port=${PGPORT:-$(free_port)}
  as_pg "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$STATE/server.log" -w -t 30 start \
    -o "-p $port -k $PGSOCK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
  "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$port" -U postgres -d postgres <<SQL
CREATE ROLE app LOGIN PASSWORD 'app' NOSUPERUSER NOCREATEROLE NOBYPASSRLS CREATEDB;
CREATE DATABASE app OWNER app;
SQL
  cat >"$ENVFILE" <<ENV
export PGBIN='$bin'
export PGDATA_DIR='$PGDATA'
export PGHOST_SOCKET='$PGSOCK'
export PGPORT='$port'
export DATABASE_URL='postgres://app:app@127.0.0.1:$port/app'
export ADMIN_DATABASE_URL='postgresql://postgres@localhost/app?host=$PGSOCK&port=$port'
ENV
  chmod 644 "$ENVFILE"
  cat "$ENVFILE"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) cat "$ENVFILE" ;;
  *) echo "usage: scripts/pg.sh up|down|env" >&2; exit 2 ;;
esac
