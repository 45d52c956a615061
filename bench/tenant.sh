#!/usr/bin/env bash
# bench/tenant: installs the reference (as ref-tenant) and wrk if missing, builds the release
# addon, starts a private PostgreSQL and runs bench/tenant/run.mjs.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
if [ ! -d bench/.ref/node_modules/ref-tenant ]; then
  mkdir -p bench/.ref
  echo '{ "private": true }' > bench/.ref/package.json
  # --legacy-peer-deps: the reference's non-optional peers (next, prisma) are not needed here.
  npm install --prefix bench/.ref --no-audit --no-fund --legacy-peer-deps --loglevel=error ref-tenant@npm:@usebetterdev/tenant@0.5.4 ref-audit@npm:@usebetterdev/audit@0.8.1
fi
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/tenant/run.mjs
