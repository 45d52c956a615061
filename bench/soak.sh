#!/usr/bin/env bash
# bench/soak: the demo app under steady load (SOAK_SECONDS, default 180), then a memory and
# data check. Not part of the test command; part of the benches.
source "$(dirname "$0")/lib.sh"
prepare --postgres
node bench/soak/run.mjs
