#!/usr/bin/env bash
# Builds the release addon, starts a private PostgreSQL and runs bench/cli.mjs.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/cli.mjs
