#!/usr/bin/env bash
# The demo: sets up what is missing, builds, starts a throwaway PostgreSQL, runs the example SaaS
# app (examples/saas) through a scripted scenario and prints its report, then stops everything.
#   scripts/demo.sh           the scenario and its report
#   scripts/demo.sh --serve   the app stays up on http://127.0.0.1:3000 (PORT=…) for curl; Ctrl-C ends it
#   scripts/demo.sh --core    the walk-through of the core (native vs wasm resolution, RLS SQL)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh >/dev/null
scripts/build.sh >/dev/null
trap '"$REPO_ROOT/scripts/pg.sh" down >/dev/null' EXIT
eval "$(scripts/pg.sh up)"
case "${1:-}" in
  --core) node examples/foundation/demo.mjs ;;
  --serve) node examples/saas/demo.mjs --serve ;;
  "") node examples/saas/demo.mjs ;;
  *) echo "usage: scripts/demo.sh [--serve|--core]" >&2; exit 2 ;;
esac
