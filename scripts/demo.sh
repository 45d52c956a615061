#!/usr/bin/env bash
# The demo: sets up what is missing, builds, starts a throwaway PostgreSQL, runs the walk-through
# in examples/foundation, and stops the cluster again.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
scripts/build.sh >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down' EXIT
eval "$(scripts/pg.sh up)"
node examples/foundation/demo.mjs
