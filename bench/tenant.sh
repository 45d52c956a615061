#!/usr/bin/env bash
# bench/tenant: installs the reference (scripts/reference.sh) and wrk if missing, builds the release
# addon, starts a private PostgreSQL and runs bench/tenant/run.mjs.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
scripts/reference.sh bench/.ref
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/tenant/run.mjs
