#!/usr/bin/env bash
# bench/edge: the edge wasm's size, and workerd's cold start with it (spawn to first response,
# against a worker without it), in one run.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
scripts/setup.sh
scripts/build.sh >/dev/null
node bench/edge/run.mjs
