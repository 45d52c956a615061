#!/usr/bin/env bash
# bench/soak: the demo app under steady load (SOAK_SECONDS, default 180), then a memory and
# data check. Not part of the test command; part of the benches.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
scripts/build.sh --release >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node bench/soak/run.mjs
