#!/usr/bin/env bash
# bench/audit: audited writes and diffs against the reference and the unaudited write.
source "$(dirname "$0")/lib.sh"
prepare --reference --postgres
node bench/audit/run.mjs
