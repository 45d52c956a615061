// One delivery worker of this package in its own process: createWorker({ concurrency: 64 }).
// Waits for "go", starts, and on "stop" stops and reports its start time and CPU time.
import pg from "pg";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksConfig } from "./common.mjs";

const { url, secretsKey, concurrency } = JSON.parse(process.argv[2]);
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
    await pool.end();
    process.send({ t0, cpu }, () => process.exit(0));
  }
});
process.send({ ready: true });
