#!/usr/bin/env bash
# bench/tenant: scoped requests against the reference and the unscoped query (wrk, Hono +
# Drizzle + node-postgres).
source "$(dirname "$0")/lib.sh"
prepare --reference --wrk --postgres
node bench/tenant/run.mjs
