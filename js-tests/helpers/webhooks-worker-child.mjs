// One delivery worker in its own process, for tests that kill a worker outright (SIGKILL: no
// shutdown, no record of what it had in flight). Started with one JSON argument:
// `{ connection, config, worker }` — the pool's connection options, the `betterWebhooks` config
// without its database, and the `createWorker` options. Prints "ready" once started; SIGTERM
// stops it cleanly.
import pg from "pg";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";

const { connection, config, worker: options } = JSON.parse(process.argv[2]);
const pool = new pg.Pool({ ...connection, max: 3 });
const webhooks = betterWebhooks({ ...config, database: sqlExecutorAdapter(pool) });
const worker = webhooks.createWorker(options);
await worker.start();
process.stdout.write("ready\n");
process.on("SIGTERM", async () => {
  await worker.stop();
  await pool.end();
  process.exit(0);
});
