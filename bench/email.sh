#!/usr/bin/env bash
# bench/email: SMTP throughput (E19) and HTTP throughput (E20) of @usebetterdev/email against the
# do-it-yourself outbox on pg-boss 10, on a private PostgreSQL, the SMTP sink and the fake Resend
# each in its own process. BENCH_MESSAGES messages per round (default 20,000; 2,000 for a quick
# run). One round per side and transport (not medians of several): the ratios printed are of
# those single rounds, both sides measured in the same run on the same data and pool sizes.
# First the costs of E21 (bench/email/cost.mjs: send() in a transaction, renders, MIME builds).
# Ends with `email smtp ours/peer=X http ours/peer=Y`.
source "$(dirname "$0")/lib.sh"
prepare --postgres
node bench/email/cost.mjs
node bench/email/run.mjs
