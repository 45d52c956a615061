// One delivery worker of this package in its own process: createWorker({ concurrency: 64 }).
// Waits for "go", starts, and on "stop" stops and reports its start time and CPU time.
import pg from "pg";
// BENCH_WEBHOOKS_DIST: load the package from another build's dist/ (to compare engine changes).
const dist = process.env.BENCH_WEBHOOKS_DIST;
const { betterWebhooks } = await import(dist ? `${dist}/index.js` : "@usebetterdev/webhooks");
const { sqlExecutorAdapter } = await import(dist ? `${dist}/sql/index.js` : "@usebetterdev/webhooks/sql");
import { webhooksConfig } from "./common.mjs";

const { url, secretsKey, concurrency } = JSON.parse(process.argv[2]);
// BENCH_TRACE=1: wall time of every statement the worker sends, summed by its first words.
const trace = new Map();
if (process.env.BENCH_TRACE) {
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (text, ...rest) {
    const sql = typeof text === "string" ? text : text.text;
    const label = sql.replace(/"public"\./g, "").replace(/\s+/g, " ").slice(0, 48);
    const t0 = process.hrtime.bigint();
    const out = query.call(this, text, ...rest);
    const add = () => {
      const e = trace.get(label) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += Number(process.hrtime.bigint() - t0) / 1e6;
      trace.set(label, e);
    };
    if (out && typeof out.then === "function") out.then(add, add);
    return out;
  };
}
const pool = new pg.Pool({ connectionString: url, max: 4 });
const webhooks = betterWebhooks(webhooksConfig(sqlExecutorAdapter(pool, { prepare: true }), secretsKey));
// Experiments, not the measured configuration: BENCH_OURS_LOOPS worker loops in this process
// sharing the 64 in flight (an approximation of claiming while requests are out), and
// BENCH_PER_ENDPOINT (perEndpointBatch, default 10: with 5 endpoints a claim takes at most 50).
const loops = Number(process.env.BENCH_OURS_LOOPS ?? 1);
const perEndpoint = process.env.BENCH_PER_ENDPOINT ? { perEndpointBatch: Number(process.env.BENCH_PER_ENDPOINT) } : {};
const workers = Array.from({ length: loops }, () => webhooks.createWorker({ concurrency: Math.floor(concurrency / loops), pollIntervalMs: 50, ...perEndpoint }));
await pool.query("SELECT 1");
let t0, cpu0;
process.on("message", async (m) => {
  if (m === "go") {
    cpu0 = process.cpuUsage();
    t0 = Date.now();
    await Promise.all(workers.map((w) => w.start()));
  } else if (m === "stop") {
    await Promise.all(workers.map((w) => w.stop()));
    const cpu = process.cpuUsage(cpu0);
    for (const [label, e] of [...trace].sort((x, y) => y[1].ms - x[1].ms)) {
      console.error(`${e.calls.toString().padStart(6)} calls ${e.ms.toFixed(0).padStart(6)} ms ${(e.ms / e.calls).toFixed(2).padStart(6)} ms/call  ${label}`);
    }
    await pool.end();
    process.send({ t0, cpu }, () => process.exit(0));
  }
});
process.send({ ready: true });
