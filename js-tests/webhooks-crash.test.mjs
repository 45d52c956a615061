// suite: once (scripts/test.sh runs it once; the `better-webhooks` bin runs on the native addon)
// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Crash safety of the CLI worker (spec §20 W4): 20,000 messages to two endpoints, delivered by
// `better-webhooks worker --concurrency 64` while the test SIGKILLs it at five random moments
// and starts it again. Afterwards every (message, endpoint) has been received at least once,
// the duplicates are at most what five kills can leave in flight (5 × 64), and every delivery
// has ended `succeeded`: none is lost, none is left `in_flight`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";
import { finishWorker, project, startWorkerBin } from "./helpers/cli.mjs";
import { requireEnv } from "./helpers/db.mjs";

const MESSAGES = 20_000;
const CONCURRENCY = 64;
const KILLS = 5;
const KEY = randomBytes(32).toString("base64");
const bin = createRequire(import.meta.url).resolve("@usebetterdev/webhooks-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
// The worker's section of better.config.mjs; a 1 s request timeout keeps the lease (timeout +
// 15 s) that a killed worker leaves behind short.
const SECTION = {
  eventTypes: ["order.created"],
  network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
  delivery: { timeoutMs: 1000, retrySchedule: [0.05, 0.1, 0.2], jitter: 0 },
};
let db;
const servers = [];
const children = new Set();

before(async () => {
  db = await webhooksDatabase("wh_crash", 8);
  await db.pool.query(betterWebhooks({ ...SECTION, database: sqlExecutorAdapter(db.pool), tenancy: "rls", secretsKey: KEY }).migrationSql(2));
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const s of servers) s.close();
  await db?.drop();
});

/** A loopback receiver answering 204 that counts receptions per `webhook-id` and payload. */
async function receiver() {
  const seen = new Map();
  const payloads = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const id = req.headers["webhook-id"];
      seen.set(id, (seen.get(id) ?? 0) + 1);
      payloads.add(JSON.parse(Buffer.concat(chunks).toString()).data.n);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { seen, payloads, url: `http://127.0.0.1:${server.address().port}/hook` };
}

/** Starts the bin's worker; resolves once it reports that it started. */
function startWorker(cwd) {
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${db.name}`;
  url.username = "app";
  url.password = "app";
  return startWorkerBin(bin, ["--concurrency", String(CONCURRENCY)], { cwd, env: { DATABASE_URL: url.toString(), BETTER_WEBHOOKS_KEY: KEY }, children });
}

const statuses = async () =>
  Object.fromEntries((await asSystem(db.pool, "SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status")).map((r) => [r.status, r.n]));

test("W4: the CLI worker SIGKILLed five times loses nothing, leaves nothing in flight, and duplicates at most 5 × 64", { timeout: 300_000 }, async () => {
  const a = await receiver();
  const b = await receiver();
  const cwd = project("wh-crash", { "better.config.mjs": `export default ${JSON.stringify({ tenant: { tenantTables: [] }, webhooks: SECTION })};\n` });
  const hooks = betterWebhooks({ ...SECTION, database: sqlExecutorAdapter(db.pool), tenancy: "rls", secretsKey: KEY });
  const tenant = randomUUID();
  for (const r of [a, b]) await hooks.endpoints.create({ url: r.url }, { tenantId: tenant });
  for (let i = 0; i < MESSAGES; i += 1000) {
    const batch = Array.from({ length: 1000 }, (_, k) => ({ eventType: "order.created", payload: { n: i + k } }));
    await inTenant(db.pool, tenant, (c) => hooks.sendMany(batch, { tx: c }));
  }

  const received = () => a.seen.size + b.seen.size;
  let worker = startWorker(cwd);
  await worker.started;
  // Five kills at random moments spread over the run: each after a random share of the work.
  for (let k = 0; k < KILLS; k++) {
    const target = Math.floor(((k + Math.random()) / (KILLS + 1)) * 2 * MESSAGES);
    const end = Date.now() + 120_000;
    while (received() < target && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    worker.child.kill("SIGKILL");
    const killed = await worker.exited;
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    worker = startWorker(cwd);
    await worker.started;
  }

  // The last worker finishes the rest, including what the killed ones left leased.
  const s = await finishWorker(worker, statuses, (x) => (x.succeeded ?? 0) >= 2 * MESSAGES);

  assert.deepEqual(s, { succeeded: 2 * MESSAGES }, "every delivery ends succeeded; none pending or in flight");
  for (const r of [a, b]) {
    assert.equal(r.seen.size, MESSAGES, `distinct webhook-ids received at ${r.url}`);
    const missing = Array.from({ length: MESSAGES }, (_, n) => n).filter((n) => !r.payloads.has(n));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} messages never reached ${r.url}`);
  }
  const duplicates = [...a.seen.values(), ...b.seen.values()].reduce((sum, n) => sum + n - 1, 0);
  assert.ok(duplicates <= KILLS * CONCURRENCY, `${duplicates} duplicate receptions`);
  // Each kill left leased work behind that a later worker claimed again (not a vacuous run).
  const reclaimed = await asSystem(db.pool, "SELECT count(*)::int AS n FROM webhook_deliveries WHERE attempt_count > 1");
  assert.ok(reclaimed[0].n > 0, "some deliveries were claimed again after a kill");
});
