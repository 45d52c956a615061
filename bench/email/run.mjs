// E19 and E20 of the email spec, ours and pg-boss 10 side by side in one run (one round each; the
// ratios are of those single rounds). Run through bench/email.sh. BENCH_MESSAGES messages per
// round (default 20,000), each 4 KiB of HTML + a text part, enqueued in the application's
// transaction by both sides (send() and pg-boss send() with its `db` option, next to an INSERT).
//   E19: to a loopback smtp-server sink — ours: `better-email worker`, smtp() with a pool of 8;
//        peer: pg-boss + nodemailer 10 pooled (maxConnections 8), building the MIME itself.
//   E20: to the fake Resend answering in 20 ms — ours: `better-email worker`, resend() with its
//        batching (up to 100 messages per request), then again with `batch: 1`; peer: pg-boss +
//        one fetch per message. 16 requests at once on each side.
// A side's rate: N over the time from its worker's start to the moment the sink (or the fake)
// has all N; CPU seconds over the same span for its worker, PostgreSQL and the sink.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import PgBoss from "pg-boss";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport } from "@usebetterdev/email/testing";
import { admin, postgresCpuSeconds, postgresTicks, urlOf } from "../webhooks/common.mjs";
import { API_KEY, QUEUES, emailSection, message, processCpuSeconds } from "./common.mjs";
import { startOurs, writeConfig } from "./ours.mjs";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const POOL = 8; // SMTP connections, both sides
const CONCURRENCY = 16; // hand-offs at once: our worker's concurrency, the peer's pg-boss batch
const LANES = 4; // concurrent application transactions while seeding
const TENANT = randomUUID();
const SECRETS_KEY = randomBytes(32).toString("base64");
const DB = `bench_email_${process.pid}`;
const here = new URL(".", import.meta.url).pathname;
const f = (x, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const children = new Set();
const dir = mkdtempSync(join(tmpdir(), "bench-email-"));

/** Forks `script` with `args`; resolves to [child, its first message]. */
async function spawnChild(script, args = [], execArgv = []) {
  const child = fork(`${here}${script}`, args, { execArgv });
  track(child);
  return [child, await new Promise((r) => child.once("message", r))];
}
// BENCH_CPU_PROF=<dir>: V8 CPU profiles of both sides' workers.
const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
/** Children are killed if the run fails half-way. */
function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
}
const ask = (child, m) => new Promise((r) => (child.once("message", r), child.send(m)));
const stopChild = (child) => new Promise((r) => (child.once("exit", r), child.send("stop")));

const a = await admin();
await a.query(`CREATE DATABASE ${DB} OWNER app`);
const url = urlOf(DB);
const pool = new pg.Pool({ connectionString: url, max: LANES + 1 });
let boss;
let monitor;
try {
  // The application's side: send() only; the config needs a transport, but the workers (other
  // processes) bring their own, so an in-memory one that is never handed anything.
  const email = betterEmail({ ...emailSection(SECRETS_KEY), database: sqlEmailAdapter(pool), transport: captureTransport() });
  await pool.query(email.migrationSql(1));
  await pool.query("CREATE TABLE orders (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, customer text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
  boss = new PgBoss({ connectionString: url, supervise: false, schedule: false });
  boss.on("error", (err) => console.error("pg-boss:", err.message));
  await boss.start();
  for (const q of Object.values(QUEUES)) await boss.createQueue(q);
  monitor = await admin(DB);

  /** Message i for `kind`'s round: one application transaction (tenant scope, an order row) that enqueues it on both sides. */
  const shim = (client) => ({ executeSql: (text, values) => client.query(text, values) });
  async function enqueue(c, kind, i, peerToo) {
    const m = message(i);
    await c.query("BEGIN");
    try {
      await c.query("SELECT set_config('app.current_tenant', $1, true)", [TENANT]);
      await c.query("INSERT INTO orders (tenant_id, customer) VALUES ($1, $2)", [TENANT, m.to]);
      await email.send(m, { tx: c });
      if (peerToo) await boss.send(QUEUES[kind], m, { db: shim(c) });
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK");
      throw err;
    }
  }
  async function seed(kind, peerToo = true) {
    const t0 = Date.now();
    let next = 0;
    const lane = async () => {
      const c = await pool.connect();
      try {
        while (next < MESSAGES) await enqueue(c, kind, next++, peerToo);
      } finally {
        c.release();
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    await pool.query("VACUUM ANALYZE");
    const sides = peerToo ? "each sent by both sides" : "each sent by ours";
    console.log(`${kind} seed: ${f(MESSAGES)} messages (4 KiB HTML + text), ${sides} in its own transaction, in ${f((Date.now() - t0) / 1000, 1)} s (${LANES} at once)`);
  }

  /** One side's run: `start()` starts its worker ({ pid, t0, cpu0, stop }); `target` counts arrivals. */
  async function measure(start, target) {
    target.send({ round: MESSAGES });
    const w = await start();
    const [pg0, rx0] = [postgresTicks(), (await ask(target, "stats")).cpu];
    const deadline = Date.now() + 20 * 60_000;
    let s;
    while ((s = await ask(target, "stats")).count < MESSAGES) {
      if (Date.now() > deadline) throw new Error(`not finished after 20 minutes: ${s.count} of ${MESSAGES}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpu = {
      worker: processCpuSeconds(w.pid) - w.cpu0,
      postgres: postgresCpuSeconds(pg0, postgresTicks()),
      sink: (s.cpu.user - rx0.user + s.cpu.system - rx0.system) / 1e6,
    };
    await w.stop();
    // After the stop: more than N at the sink would be a message handed off twice.
    const after = await ask(target, "stats");
    const seconds = (s.doneAt - w.t0) / 1000;
    return { count: after.count, bytes: after.bytes, seconds, rate: MESSAGES / seconds, cpu };
  }

  /** Our worker's start for `kind`: the CLI on a config written for it. */
  const ours = (kind, endpoint) => () => startOurs({ config: writeConfig(dir, kind, emailSection(SECRETS_KEY), { ...endpoint, apiKey: API_KEY, poolMax: POOL }), url, concurrency: CONCURRENCY, track });
  /** Ours over HTTP with `batch` messages per request at most. */
  const oursHttp = (origin, batch) => ours(`http-${batch}`, { origin, batch });
  /** The peer's start for `kind`: its process forked, then told to go. */
  const peer = (kind, endpoint) => async () => {
    const [child] = await spawnChild("worker-peer.mjs", [JSON.stringify({ url, kind, ...endpoint, batchSize: CONCURRENCY, maxConnections: POOL })], prof);
    const cpu0 = processCpuSeconds(child.pid);
    const { t0 } = await ask(child, "go");
    return { pid: child.pid, t0, cpu0, stop: () => ask(child, "stop") };
  };

  async function check(name, r) {
    if (r.count !== MESSAGES) throw new Error(`${name}: the sink received ${r.count} messages, expected ${MESSAGES}`);
  }
  async function outcomes(kind) {
    const ours = (await monitor.query("SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent, count(*)::int AS total FROM email_messages")).rows[0];
    const peer = (await monitor.query("SELECT count(*) FILTER (WHERE state = 'completed')::int AS done, count(*)::int AS total FROM pgboss.job WHERE name = $1", [QUEUES[kind]])).rows[0];
    if (ours.sent !== MESSAGES || peer.done !== MESSAGES) {
      throw new Error(`${kind}: ours ${ours.sent} of ${ours.total} messages sent, pg-boss ${peer.done} of ${peer.total} jobs completed`);
    }
  }
  const line = (name, r, extra = "") =>
    console.log(
      `${name}: ${f(r.count)} messages in ${f(r.seconds, 2)} s = ${f(r.rate)} messages/s${extra}; ` +
        `CPU s worker ${f(r.cpu.worker, 1)} postgres ${f(r.cpu.postgres, 1)} ${r.sinkName} ${f(r.cpu.sink, 1)}`,
    );

  // E19: SMTP.
  await seed("smtp");
  const [sink, { port }] = await spawnChild("sink.mjs");
  const smtpOurs = { ...(await measure(ours("smtp", { port }), sink)), sinkName: "sink" };
  const smtpPeer = { ...(await measure(peer("smtp", { port }), sink)), sinkName: "sink" };
  await stopChild(sink);
  await Promise.all([check("smtp ours", smtpOurs), check("smtp peer", smtpPeer), outcomes("smtp")]);
  const size = (r) => `, ${f(r.bytes / r.count)} bytes each at the sink`;
  line(`smtp ours (better-email worker, concurrency ${CONCURRENCY}, smtp() pool ${POOL})`, smtpOurs, size(smtpOurs));
  line(`smtp peer (pg-boss batch ${CONCURRENCY}, nodemailer pool ${POOL})`, smtpPeer, size(smtpPeer));

  // E20: HTTP, a fresh fake per round (the fake keeps what it accepted in memory): ours with
  // resend()'s batching (100 messages per request, its default), ours with `batch: 1`
  // (re-seeded: the first round sent ours), then the peer.
  const emptyOurs = () => monitor.query("TRUNCATE email_messages, email_recipients, email_attempts, orders CASCADE");
  const httpRound = async (start) => {
    const [fake, { url: origin }] = await spawnChild("fake-resend.mjs");
    const r = { ...(await measure(start(origin), fake)), sinkName: "fake", requests: (await ask(fake, "stats")).requests };
    await stopChild(fake);
    return r;
  };
  await emptyOurs();
  await seed("http");
  const httpOurs = await httpRound((origin) => oursHttp(origin, 100));
  await check("http ours", httpOurs);
  await emptyOurs();
  await seed("http", false);
  const httpSingle = await httpRound((origin) => oursHttp(origin, 1));
  const httpPeer = await httpRound((origin) => peer("http", { origin }));
  await Promise.all([check("http ours, batch 1", httpSingle), check("http peer", httpPeer), outcomes("http")]);
  const requests = (r) => `, ${f(r.requests)} requests`;
  line(`http ours (better-email worker, concurrency ${CONCURRENCY}, resend() batching up to 100)`, httpOurs, requests(httpOurs));
  line(`http ours (better-email worker, concurrency ${CONCURRENCY}, resend({ batch: 1 }))`, httpSingle, requests(httpSingle));
  line(`http peer (pg-boss batch ${CONCURRENCY}, fetch)`, httpPeer, requests(httpPeer));

  const smtp = smtpOurs.rate / smtpPeer.rate;
  const http = httpOurs.rate / httpPeer.rate;
  const single = httpSingle.rate / httpPeer.rate;
  const gate = (x, g) => (x >= g ? "pass" : "FAIL");
  console.log(`E19 smtp ours/peer = ${f(smtp, 2)} (gate >= 1.5: ${gate(smtp, 1.5)})`);
  console.log(`E20 http ours/peer = ${f(http, 2)} with batching (gate >= 5: ${gate(http, 5)}), ${f(single, 2)} without (gate >= 1.5: ${gate(single, 1.5)})`);
  console.log(`email smtp ours/peer=${smtp.toFixed(2)} http ours/peer=${http.toFixed(2)}`);
} finally {
  for (const child of children) child.kill();
  await boss?.stop({ graceful: false, wait: true }).catch(() => {});
  await pool.end();
  await monitor?.end();
  rmSync(dir, { recursive: true, force: true });
  // BENCH_KEEP=1 leaves the database for inspection.
  if (!process.env.BENCH_KEEP) await a.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await a.end();
}
