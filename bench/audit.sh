#!/usr/bin/env bash
# bench/audit: installs the reference (as ref-audit) if missing, builds the release addon,
# starts a private PostgreSQL and runs bench/audit/run.mjs.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
if [ ! -d bench/.ref/node_modules/ref-audit ]; then
  mkdir -p bench/.ref
  [ -f bench/.ref/package.json ] || echo '{ "private": true }' > bench/.ref/package.json
  # --legacy-peer-deps: the reference's non-optional peers (next, prisma) are not needed here.
  npm install --prefix bench/.ref --no-audit --no-fund --legacy-peer-deps --loglevel=error ref-audit@npm:@usebetterdev/audit@0.8.1
fi
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/audit/run.mjs
