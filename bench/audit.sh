#!/usr/bin/env bash
# bench/audit: installs the reference (scripts/reference.sh) if missing, builds the release addon,
# starts a private PostgreSQL and runs bench/audit/run.mjs.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
scripts/reference.sh bench/.ref
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/audit/run.mjs
