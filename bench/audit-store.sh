#!/usr/bin/env bash
# bench/audit-store: audit storage figures on a private PostgreSQL — write rate with and without
# sealing, purge of the oldest of 12 months on a partitioned and on a plain table, and
# first-page query latency, at BENCH_ROWS rows (default 5,000,000).
source "$(dirname "$0")/lib.sh"
prepare --postgres
node bench/audit-store/run.mjs
