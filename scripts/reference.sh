#!/usr/bin/env bash
# Installs the reference packages under aliases (ref-tenant, ref-audit, ref-tenant-cli)
# into <dir>/node_modules, once: the upgrade test and the benchmarks compare
# against them. Their peers (drizzle-orm, pg, hono) resolve from the repository's node_modules.
set -euo pipefail
dir=${1:?usage: scripts/reference.sh <dir>}
[ -d "$dir/node_modules/ref-tenant-cli" ] && exit 0
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{ "private": true }' > "$dir/package.json"
# --legacy-peer-deps: the reference's non-optional peers (next, prisma) are not needed here.
npm install --prefix "$dir" --no-audit --no-fund --legacy-peer-deps --loglevel=error \
  ref-tenant@npm:@usebetterdev/tenant@0.5.4 ref-audit@npm:@usebetterdev/audit@0.8.1 \
  ref-tenant-cli@npm:@usebetterdev/tenant-cli@0.5.4
