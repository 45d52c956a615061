#!/usr/bin/env bash
# bench/webhooks: delivery throughput (W15) and enqueue cost (W16) of @usebetterdev/webhooks
# against the do-it-yourself outbox on pg-boss 10, on a private PostgreSQL, with a loopback
# receiver in its own process. BENCH_MESSAGES messages × 5 endpoints (default 20,000; 2,000 for a
# quick run), BENCH_ENQUEUE transactions per enqueue variant (default 2,000). First the work queue
# at scale (W18: BENCH_FINISHED finished deliveries, default 1,000,000) and the latency at 50
# messages/s (W17). Ours runs with `sqlExecutorAdapter(pool, { prepare: true })` (named prepared
# statements on node-postgres; the peer's pg-boss sends its own statements unnamed).
source "$(dirname "$0")/lib.sh"
prepare --postgres
node bench/webhooks/queue.mjs
node bench/webhooks/run.mjs
