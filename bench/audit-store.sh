#!/usr/bin/env bash
# bench/audit-store: audit storage figures on a private PostgreSQL — write rate with and without
# sealing, purge of the oldest of 12 months on a partitioned and on a plain table, and
# first-page query latency, at BENCH_ROWS rows (default 5,000,000).
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/audit-store/run.mjs
