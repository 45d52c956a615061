#!/usr/bin/env bash
# bench/cli: better-tenant at scale (migrate and check for 1,000 tables), then start-up against
# the reference (--help, an app's first response, importing the packages).
source "$(dirname "$0")/lib.sh"
prepare --reference --postgres
node bench/cli/scale.mjs
node bench/cli/startup.mjs
