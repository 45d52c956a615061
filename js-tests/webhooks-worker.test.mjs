// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The delivery engine's guarantees under real PostgreSQL (RLS on, a role without BYPASSRLS)
// and loopback receivers: requests bounded by their lease, lease fencing of late results,
// shutdown that lets requests finish and aborts the rest, endpoint writes only on health
// transitions, and key rotation with one signature per unexpired key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { webhooksDatabase, inTenant as inTenantOf, asSystem, loopbackConfig, engineSteps } from "./helpers/webhooks.mjs";

let db, pool;
const KEY = randomBytes(32).toString("base64");
const servers = [];

const config = (extra = {}) => loopbackConfig(pool, KEY, extra);

/** A loopback receiver; `answer(n)` returns `[status, delayMs]` for the n-th request. */
async function receiver(answer) {
  const got = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const [status, delay] = answer(got.length);
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      setTimeout(() => res.writeHead(status).end(), delay);
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  const connections = () => new Promise((r, j) => server.getConnections((err, n) => (err ? j(err) : r(n))));
  return { got, url: `http://127.0.0.1:${server.address().port}/`, connections };
}

const inTenant = (tenant, fn) => inTenantOf(pool, tenant, fn);

const until = async (cond, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
};

before(async () => {
  db = await webhooksDatabase("webhooks_worker", 8);
  pool = db.pool;
  await pool.query(betterWebhooks(config()).migrationSql(2));
});

after(async () => {
  for (const s of servers) s.close();
  await db?.drop();
});

const system = (text, values) => asSystem(pool, text, values);

test("lease bound: a request unanswered when its worker's lease runs out is aborted, recorded lease_expired and sent again", async () => {
  const tenant = randomUUID();
  const r = await receiver((n) => (n === 0 ? [200, 1500] : [204, 0]));
  const w = betterWebhooks(config());
  await w.endpoints.create({ url: r.url }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { n: 1 } }, { tx: c }));
  const a = w.createWorker({ concurrency: 1, leaseMs: 300, workerId: "A", pollIntervalMs: 20 });
  await a.start();
  await until(async () => (await system("SELECT status FROM webhook_deliveries"))[0]?.status === "succeeded");
  await a.stop();
  // The first request was cut at the lease's end (less its margin), long before the receiver's
  // 1.5 s answer: no other worker could have sent the delivery while it was still on the wire.
  const attempts = await system("SELECT outcome, attempt_number, worker_id, duration_ms FROM webhook_attempts ORDER BY created_at");
  assert.deepEqual(attempts.map((x) => [x.outcome, x.attempt_number, x.worker_id]), [
    ["lease_expired", 1, "A"],
    ["ok", 2, "A"],
  ]);
  assert.ok(attempts[0].duration_ms < 300, `aborted after ${attempts[0].duration_ms} ms`);
  assert.equal(r.got.length, 2);
});

test("lease fencing: a result recorded after another worker reaped the lease logs its attempt but leaves the delivery alone", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints, webhook_workers");
  const tenant = randomUUID();
  const w = betterWebhooks(config());
  await w.endpoints.create({ url: "http://127.0.0.1:9/" }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: {} }, { tx: c }));
  const { database: _, ...plain } = config();
  const { engine, q, begin, expand, recordInput } = engineSteps(plain);
  const c = await pool.connect();
  try {
    await expand(c);
    const [claimed] = await q(c, "claimUnordered", [true, 10, 10, "A", 100]);
    await c.query("COMMIT");
    await new Promise((res) => setTimeout(res, 150));
    await begin(c);
    const [reaped] = await q(c, "reapExpired", [10, "B", 60_000]);
    await c.query("COMMIT");
    assert.equal(reaped.previous_owner, "A");
    // A's answer comes in late: its attempt is logged, the delivery stays B's.
    const plan = engine.recordBatch([recordInput(claimed, { status: 204, workerId: "A" })], Date.now(), [0]);
    await begin(c);
    assert.deepEqual(await q(c, "recordDeliveries", plan.recordDeliveries), []);
    await q(c, "insertAttempts", plan.insertAttempts);
    await c.query("COMMIT");
  } finally {
    c.release();
  }
  const [d] = await system("SELECT status, attempt_count, lease_owner FROM webhook_deliveries");
  assert.deepEqual(d, { status: "in_flight", attempt_count: 1, lease_owner: "B" });
  const attempts = await system("SELECT outcome, worker_id FROM webhook_attempts");
  assert.deepEqual(attempts, [{ outcome: "ok", worker_id: "A" }]);
});

test("shutdown: in-flight requests finish within shutdownTimeoutMs, the rest are aborted and retried later", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints, webhook_workers");
  const tenant = randomUUID();
  const slow = await receiver(() => [204, 300]);
  const w = betterWebhooks(config());
  await w.endpoints.create({ url: slow.url }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.sendMany(Array.from({ length: 40 }, (_, i) => ({ eventType: "invoice.paid", payload: { i } })), { tx: c }));
  const worker = w.createWorker({ concurrency: 8, workerId: "S", pollIntervalMs: 20, shutdownTimeoutMs: 2_000 });
  await worker.start();
  await until(() => slow.got.length >= 8);
  assert.equal((await system("SELECT count(*)::int AS n FROM webhook_workers WHERE id = 'S'"))[0].n, 1, "heartbeat while running");
  await worker.stop();
  const rows = await system("SELECT status, attempt_count, count(*)::int AS n FROM webhook_deliveries GROUP BY 1, 2 ORDER BY 1, 2");
  const succeeded = rows.find((x) => x.status === "succeeded")?.n ?? 0;
  assert.ok(succeeded >= 8 && succeeded < 40, JSON.stringify(rows));
  assert.equal(succeeded, slow.got.length, "every request sent was recorded as delivered");
  assert.ok(rows.every((x) => x.status === "succeeded" || (x.status === "pending" && x.attempt_count === 0)), JSON.stringify(rows));
  assert.equal((await system("SELECT count(*)::int AS n FROM webhook_workers WHERE id = 'S'"))[0].n, 0, "heartbeat removed");

  // A receiver slower than the shutdown budget: the request is aborted, recorded, retried later.
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints");
  const stuck = await receiver(() => [204, 3_000]);
  await w.endpoints.create({ url: stuck.url }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: {} }, { tx: c }));
  const quick = w.createWorker({ concurrency: 2, pollIntervalMs: 20, shutdownTimeoutMs: 100 });
  await quick.start();
  await until(() => stuck.got.length === 1);
  const t0 = Date.now();
  await quick.stop();
  assert.ok(Date.now() - t0 < 1_500, `stop took ${Date.now() - t0} ms`);
  const [d] = await system("SELECT status, attempt_count, last_outcome FROM webhook_deliveries");
  assert.deepEqual(d, { status: "pending", attempt_count: 1, last_outcome: "worker_shutdown" });
});

test("endpoint health: a steady stream of successes writes nothing to the endpoint; failures and recovery write once each", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints");
  const tenant = randomUUID();
  let fail = false;
  const r = await receiver(() => [fail ? 500 : 204, 0]);
  const w = betterWebhooks(config());
  const { endpoint } = await w.endpoints.create({ url: r.url }, { tenantId: tenant });
  const uuid = core.webhookId("endpoint", endpoint.id, false);
  const xmin = async () => (await system("SELECT xmin::text AS x, failing_since FROM webhook_endpoints WHERE id = $1", [uuid]))[0];
  const before = await xmin();
  for (let i = 0; i < 5; i++) {
    await inTenant(tenant, (c) => w.sendMany(Array.from({ length: 100 }, (_, j) => ({ eventType: "invoice.paid", payload: { i, j } })), { tx: c }));
    await w.drain({ maxMs: 10_000 });
  }
  assert.equal(r.got.length, 500);
  assert.equal((await xmin()).x, before.x, "no UPDATE of webhook_endpoints for 500 successes");
  fail = true;
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { f: 1 } }, { tx: c }));
  // One attempt only: on a slow connection a longer drain would also make the retries (50 ms
  // apart) and exhaust the delivery before the receiver recovers.
  await w.drain({ maxMs: 5_000, maxDeliveries: 1 });
  const failing = await xmin();
  assert.notEqual(failing.x, before.x);
  assert.ok(failing.failing_since instanceof Date, "failing_since set by the first failure");
  fail = false;
  await new Promise((res) => setTimeout(res, 100));
  await w.drain({ maxMs: 5_000 });
  const healed = await xmin();
  assert.equal(healed.failing_since, null, "a success clears failing_since");
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { ok: 1 } }, { tx: c }));
  await w.drain({ maxMs: 5_000 });
  assert.equal((await xmin()).x, healed.x, "healthy again: no write");
});

test("key rotation: one signature per unexpired key, each verifying with its own key; limits and sealing", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints");
  const tenant = randomUUID();
  const r = await receiver(() => [204, 0]);
  const w = betterWebhooks(config());
  const { endpoint, secret: first } = await w.endpoints.create({ url: r.url }, { tenantId: tenant });
  const { secret: second } = await w.endpoints.rotateSecret(endpoint.id, { graceHours: 24 }, { tenantId: tenant });
  assert.notEqual(first, second);
  assert.deepEqual(await w.endpoints.revealSecret(endpoint.id, { tenantId: tenant }), { secret: second, publicKey: null });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: {} }, { tx: c }));
  await w.drain({ maxMs: 5_000 });
  const got = r.got.at(-1);
  const sigs = got.headers["webhook-signature"].split(" ");
  assert.equal(sigs.length, 2);
  const pairs = (sig) => [["webhook-id", got.headers["webhook-id"]], ["webhook-timestamp", got.headers["webhook-timestamp"]], ["webhook-signature", sig]];
  const now = Math.floor(Date.now() / 1000);
  core.webhookVerify(pairs(sigs[0]), got.body, { secret: second, now });
  core.webhookVerify(pairs(sigs[1]), got.body, { secret: first, now });
  assert.throws(() => core.webhookVerify(pairs(sigs[0]), got.body, { secret: first, now }), (e) => e.code === "WEBHOOK_BAD_SIGNATURE");
  // Ten old keys may stay unexpired; an eleventh rotation in the window is refused.
  for (let i = 0; i < 9; i++) await w.endpoints.rotateSecret(endpoint.id, { graceHours: 24 }, { tenantId: tenant });
  const err = await w.endpoints.rotateSecret(endpoint.id, { graceHours: 24 }, { tenantId: tenant }).catch((e) => e);
  assert.equal(err.code, "WEBHOOKS_TOO_MANY_OLD_KEYS");
  // With no grace the current key stops signing at once (the older ones keep their windows).
  const { secret: last } = await w.endpoints.rotateSecret(endpoint.id, { graceHours: 0 }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { again: 1 } }, { tx: c }));
  await w.drain({ maxMs: 5_000 });
  const lastGot = r.got.at(-1);
  assert.equal(lastGot.headers["webhook-signature"].split(" ").length, 1 + 10, "the new key and the ten in their grace window");
  core.webhookVerify(Object.entries(lastGot.headers).filter(([k]) => k.startsWith("webhook-")), lastGot.body, { secret: last, now: Math.floor(Date.now() / 1000) });
  // After its window an old key no longer signs: a fresh endpoint rotated without grace signs once.
  const fresh = await w.endpoints.create({ url: r.url }, { tenantId: tenant });
  const { secret: only } = await w.endpoints.rotateSecret(fresh.endpoint.id, { graceHours: 0 }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { fresh: 1 }, endpoints: [fresh.endpoint.id] }, { tx: c }));
  await w.drain({ maxMs: 5_000 });
  const one = r.got.at(-1);
  assert.equal(one.headers["webhook-signature"].split(" ").length, 1);
  core.webhookVerify(Object.entries(one.headers).filter(([k]) => k.startsWith("webhook-")), one.body, { secret: only, now: Math.floor(Date.now() / 1000) });
  assert.throws(
    () => core.webhookVerify(Object.entries(one.headers).filter(([k]) => k.startsWith("webhook-")), one.body, { secret: fresh.secret, now: Math.floor(Date.now() / 1000) }),
    (e) => e.code === "WEBHOOK_BAD_SIGNATURE",
  );
  // A sealed key copied to another endpoint's row does not open there (bound to the endpoint id).
  const [row] = await system("SELECT keys FROM webhook_endpoints WHERE id = $1", [core.webhookId("endpoint", endpoint.id, false)]);
  const other = new core.Webhooks({ eventTypes: [], secretsKey: KEY }, false);
  assert.throws(() => other.revealSecret(`ep_${"0".repeat(26)}`, row.keys, Date.now()), (e) => e.code === "WEBHOOKS_SECRETS_KEY_WRONG");
  assert.equal(other.revealSecret(endpoint.id, row.keys, Date.now()).secret, last);
});

test("a send in this process wakes the worker once its transaction commits, not a poll interval later", async () => {
  const tenant = randomUUID();
  const r = await receiver(() => [204, 0]);
  const w = betterWebhooks(config());
  await w.endpoints.create({ url: r.url }, { tenantId: tenant });
  const worker = w.createWorker({ pollIntervalMs: 30_000 });
  await worker.start();
  await new Promise((res) => setTimeout(res, 300)); // the worker is idle, sleeping its poll interval
  // The wake-up fires 5 ms after send(); the transaction commits 60 ms after it.
  await inTenant(tenant, async (c) => {
    await w.send({ eventType: "invoice.paid", payload: { n: 1 } }, { tx: c });
    await new Promise((res) => setTimeout(res, 60));
  });
  try {
    await until(() => r.got.length === 1, 5_000);
  } finally {
    await worker.stop();
  }
});

test("drain() and a stopped worker close their connections to receivers (no keep-alive socket left behind)", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints, webhook_workers");
  const tenant = randomUUID();
  const r = await receiver(() => [204, 0]);
  const w = betterWebhooks(config());
  await w.endpoints.create({ url: r.url }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.sendMany(Array.from({ length: 5 }, (_, i) => ({ eventType: "invoice.paid", payload: { i } })), { tx: c }));
  assert.deepEqual(await w.drain({ maxMs: 5_000 }), { delivered: 5 });
  // The receiver keeps idle connections for 5 s; a dispatcher left open would hold them for 10 s.
  await until(async () => (await r.connections()) === 0, 1_000);

  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { i: 5 } }, { tx: c }));
  const worker = w.createWorker({ concurrency: 2, pollIntervalMs: 20 });
  await worker.start();
  await until(() => r.got.length === 6);
  assert.ok((await r.connections()) > 0, "the worker keeps its connection while it runs");
  await worker.stop();
  await until(async () => (await r.connections()) === 0, 1_000);
});

test("W5: a worker SIGSTOPped past its lease; another re-claims and delivers; the stopped one's late result is logged and changes nothing", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints, webhook_workers");
  const tenant = randomUUID();
  // A's request is answered 400 ms late (A is stopped by then); B's at once.
  const r = await receiver((n) => [204, n === 0 ? 400 : 0]);
  const { database: _, ...plain } = config();
  const w = betterWebhooks(config());
  await w.endpoints.create({ url: r.url }, { tenantId: tenant });
  const { host, port, user, password, database } = pool.options;
  const a = spawn(process.execPath, [new URL("./helpers/webhooks-worker-child.mjs", import.meta.url).pathname, JSON.stringify({ connection: { host, port, user, password, database }, config: plain, worker: { workerId: "A", leaseMs: 1_500, pollIntervalMs: 20, concurrency: 1 } })], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((res) => a.once("exit", (code, signal) => res({ code, signal })));
  try {
    await new Promise((res) => a.stdout.once("data", res));
    await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { w5: true } }, { tx: c }));
    await until(() => r.got.length === 1);
    a.kill("SIGSTOP");
    const [held] = await system("SELECT status, lease_owner, attempt_count FROM webhook_deliveries");
    assert.deepEqual(held, { status: "in_flight", lease_owner: "A", attempt_count: 1 });
    // B reaps A's lease once it has run out, claims the delivery again and delivers it.
    const b = w.createWorker({ workerId: "B", pollIntervalMs: 20, reapIntervalMs: 100, concurrency: 1 });
    await b.start();
    try {
      await until(async () => (await system("SELECT status FROM webhook_deliveries"))[0].status === "succeeded", 15_000);
    } finally {
      await b.stop();
    }
    const [byB] = await system("SELECT status, attempt_count FROM webhook_deliveries");
    assert.deepEqual(byB, { status: "succeeded", attempt_count: 2 });
    assert.equal(r.got.length, 2);
    // A resumes: its request ends (answered, or cut at its lease) and is recorded as A's attempt.
    a.kill("SIGCONT");
    await until(async () => (await system("SELECT count(*)::int AS n FROM webhook_attempts WHERE worker_id = 'A'"))[0].n === 1, 10_000);
    const [after] = await system("SELECT status, attempt_count FROM webhook_deliveries");
    assert.deepEqual(after, byB, "A's late result leaves the delivery as B left it");
    const outcomes = await system("SELECT worker_id, outcome FROM webhook_attempts ORDER BY created_at, worker_id");
    assert.ok(outcomes.some((o) => o.worker_id === "B" && o.outcome === "ok"), JSON.stringify(outcomes));
  } finally {
    a.kill("SIGCONT");
    a.kill("SIGTERM");
    await exited;
  }
});
