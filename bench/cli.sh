#!/usr/bin/env bash
# Installs the reference packages (as ref-tenant, ref-audit, ref-tenant-cli in bench/.ref) if
# missing, builds the release addon, starts a private PostgreSQL and runs bench/cli.mjs (scale)
# and bench/startup.mjs (start-up against the reference).
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
refs=(ref-tenant@npm:@usebetterdev/tenant@0.5.4 ref-audit@npm:@usebetterdev/audit@0.8.1 ref-tenant-cli@npm:@usebetterdev/tenant-cli@0.5.4)
if [ ! -d bench/.ref/node_modules/ref-tenant ] || [ ! -d bench/.ref/node_modules/ref-audit ] || [ ! -d bench/.ref/node_modules/ref-tenant-cli ]; then
  mkdir -p bench/.ref
  [ -f bench/.ref/package.json ] || echo '{ "private": true }' > bench/.ref/package.json
  # --legacy-peer-deps: the reference's non-optional peers (next, prisma) are not needed here.
  npm install --prefix bench/.ref --no-audit --no-fund --legacy-peer-deps --loglevel=error "${refs[@]}"
fi
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/cli.mjs
node bench/startup.mjs
