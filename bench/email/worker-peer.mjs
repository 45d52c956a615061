// The peer: the usual do-it-yourself outbox on pg-boss 10 — one job per message, `boss.work` with
// batches of `batchSize` all handed off at once, the batch completed when every hand-off of it
// succeeded (a failed one fails its job). Hand-off by kind:
//   smtp: nodemailer 10 builds the MIME and sends it over its own pool (`pool: true`,
//         `maxConnections`; its other pool options at their defaults),
//   http: one `fetch` per message to the fake Resend, the JSON body and headers Resend documents.
// Waits for "go", answers { t0 } once working, and on "stop" stops and exits.
import PgBoss from "pg-boss";
import nodemailer from "nodemailer";
import { API_KEY, FROM, QUEUES } from "./common.mjs";

const { url, kind, port, origin, batchSize, maxConnections } = JSON.parse(process.argv[2]);
const queue = QUEUES[kind];
const boss = new PgBoss({ connectionString: url, migrate: false, supervise: false, schedule: false });
boss.on("error", (err) => console.error("pg-boss:", err.message));
await boss.start();

let mailer;
let deliver;
if (kind === "smtp") {
  // Plain SMTP on loopback like ours (`secure: "none"`): no TLS upgrade even if offered.
  mailer = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true, pool: true, maxConnections });
  deliver = async (job) => {
    const { to, subject, html, text } = job.data;
    await mailer.sendMail({ from: FROM, to, subject, html, text });
  };
} else {
  deliver = async (job) => {
    const { to, subject, html, text } = job.data;
    const res = await fetch(`${origin}/emails`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json", "idempotency-key": job.id },
      body: JSON.stringify({ from: FROM, to: [to], subject, html, text }),
    });
    await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  };
}

let workerId;
process.on("message", async (m) => {
  if (m === "go") {
    const t0 = Date.now();
    workerId = await boss.work(queue, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      const failed = (await Promise.allSettled(jobs.map(deliver))).flatMap((r, i) => (r.status === "rejected" ? [jobs[i].id] : []));
      if (failed.length) await boss.fail(queue, failed);
      // pg-boss 10 waits out its polling interval after every batch unless notified: a full
      // batch means more work is waiting, so fetch again at once (as the webhooks peer does).
      if (jobs.length === batchSize) boss.notifyWorker(workerId);
    });
    process.send({ t0 });
  } else if (m === "stop") {
    await boss.offWork(queue);
    await boss.stop({ graceful: true, wait: true, timeout: 5000 });
    mailer?.close();
    process.send({ stopped: true }, () => process.exit(0));
  }
});
process.send({ ready: true });
// Orphaned (run.mjs gone): exit rather than linger.
process.on("disconnect", () => process.exit(1));
