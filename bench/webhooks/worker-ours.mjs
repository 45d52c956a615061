// One delivery worker of this package in its own process: createWorker({ concurrency: 64 }).
// Waits for "go", starts, and on "stop" stops and reports its start time and CPU time.
import pg from "pg";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
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
const webhooks = betterWebhooks(webhooksConfig(sqlExecutorAdapter(pool), secretsKey));
const worker = webhooks.createWorker({ concurrency, pollIntervalMs: 50 });
await pool.query("SELECT 1");
let t0, cpu0;
process.on("message", async (m) => {
  if (m === "go") {
    cpu0 = process.cpuUsage();
    t0 = Date.now();
    await worker.start();
  } else if (m === "stop") {
    await worker.stop();
    const cpu = process.cpuUsage(cpu0);
    for (const [label, e] of [...trace].sort((x, y) => y[1].ms - x[1].ms)) {
      console.error(`${e.calls.toString().padStart(6)} calls ${e.ms.toFixed(0).padStart(6)} ms ${(e.ms / e.calls).toFixed(2).padStart(6)} ms/call  ${label}`);
    }
    await pool.end();
    process.send({ t0, cpu }, () => process.exit(0));
  }
});
process.send({ ready: true });
