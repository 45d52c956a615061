// The peer: the usual do-it-yourself outbox on pg-boss 10 — one job per delivery, `boss.work`
// with batches of 64, each job signed with standardwebhooks and POSTed through an undici Pool,
// completed when every request of the batch got a 2xx (a failed one fails its job).
import PgBoss from "pg-boss";
import { Pool } from "undici";
import { Webhook } from "standardwebhooks";
import { QUEUE } from "./common.mjs";

const { url, origin, batchSize } = JSON.parse(process.argv[2]);
const boss = new PgBoss({ connectionString: url, migrate: false, supervise: false, schedule: false });
boss.on("error", (err) => console.error("pg-boss:", err.message));
await boss.start();
const http = new Pool(origin, { connections: batchSize, keepAliveTimeout: 30_000 });
const signers = new Map();
const signer = (secret) => signers.get(secret) ?? signers.set(secret, new Webhook(secret)).get(secret);

async function deliver(job) {
  const { path, secret, id, body } = job.data;
  const now = new Date();
  const res = await http.request({
    path,
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signer(secret).sign(id, now, body),
    },
  });
  await res.body.dump();
  if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`HTTP ${res.statusCode}`);
}

let t0, cpu0, workerId;
process.on("message", async (m) => {
  if (m === "go") {
    cpu0 = process.cpuUsage();
    t0 = Date.now();
    workerId = await boss.work(QUEUE, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      const failed = (await Promise.allSettled(jobs.map(deliver))).flatMap((r, i) => (r.status === "rejected" ? [jobs[i].id] : []));
      if (failed.length) await boss.fail(QUEUE, failed);
      // pg-boss 10 waits out its polling interval (0.5 s at the least) after every batch unless
      // notified: a full batch means more work is waiting, so fetch again at once.
      if (jobs.length === batchSize) boss.notifyWorker(workerId);
    });
  } else if (m === "stop") {
    await boss.offWork(QUEUE);
    const cpu = process.cpuUsage(cpu0);
    await boss.stop({ graceful: true, wait: true, timeout: 5000 });
    await http.close();
    process.send({ t0, cpu }, () => process.exit(0));
  }
});
process.send({ ready: true });
