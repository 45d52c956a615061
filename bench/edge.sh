#!/usr/bin/env bash
# bench/edge: the edge wasm's size, and workerd's cold start with it (spawn to first response,
# against a worker without it), in one run.
source "$(dirname "$0")/lib.sh"
prepare --debug-build
node bench/edge/run.mjs
