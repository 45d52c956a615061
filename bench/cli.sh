#!/usr/bin/env bash
# Installs the reference packages (scripts/reference.sh) if missing, builds the release addon,
# starts a private PostgreSQL and runs bench/cli.mjs (scale) and bench/startup.mjs (start-up
# against the reference).
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
scripts/reference.sh bench/.ref
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/cli.mjs
node bench/startup.mjs
