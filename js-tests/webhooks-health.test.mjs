// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// W9: auto-disable with the default rule (`disable.after` 5 days, `disable.minFailedAttempts`
// 10). An endpoint is disabled when one of its deliveries exhausts after it has failed for at
// least 5 days with at least 10 failed attempts since; either condition alone is not enough,
// and one success in between starts the count again. Days pass by moving the endpoint's
// `failing_since` back in SQL; the attempts themselves run on a short retry schedule.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksDatabase, inTenant as inTenantOf, asSystem } from "./helpers/webhooks.mjs";

let db, pool, url;
const KEY = randomBytes(32).toString("base64");
let server;
let status = 500;
let received = 0;
const events = [];

/** `attempts` attempts per delivery, 10 ms apart. */
function webhooks(attempts) {
  return betterWebhooks({
    database: sqlExecutorAdapter(pool),
    eventTypes: ["invoice.paid"],
    secretsKey: KEY,
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: Array(attempts - 1).fill(0.01), jitter: 0 },
    onEvent: (e) => void events.push(e),
  });
}

const inTenant = (tenant, fn) => inTenantOf(pool, tenant, fn);
const system = (text, values) => asSystem(pool, text, values);

before(async () => {
  db = await webhooksDatabase("webhooks_health", 6);
  pool = db.pool;
  await pool.query(webhooks(2).migrationSql(2));
  server = createServer((req, res) => {
    received++;
    req.resume().on("end", () => res.writeHead(status).end());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${server.address().port}/`;
});

after(async () => {
  server?.close();
  await db?.drop();
});

/** A fresh endpoint of a fresh tenant: `{ w, tenant, id (uuid), publicId }`. */
async function endpoint(attempts) {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints, webhook_operational_events");
  events.length = 0;
  status = 500;
  const w = webhooks(attempts);
  const tenant = randomUUID();
  const { endpoint: e } = await w.endpoints.create({ url }, { tenantId: tenant });
  return { w, tenant, id: core.webhookId("endpoint", e.id, false), publicId: e.id };
}

const send = (x, payload) => inTenant(x.tenant, (c) => x.w.send({ eventType: "invoice.paid", payload }, { tx: c }));

/** One attempt of each due delivery (a drain would go on while retries fall due). */
const firstRound = (x) => x.w.drain({ maxMs: 5_000, maxDeliveries: 1 });

/** Drains until no delivery is pending or in flight (or the endpoint is disabled). */
async function drainAll(x) {
  for (let i = 0; i < 200; i++) {
    await x.w.drain({ maxMs: 5_000 });
    const [open] = await system(
      "SELECT count(*)::int AS n FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.status IN ('pending', 'in_flight') AND e.status = 'enabled'",
    );
    if (open.n === 0) return;
    await new Promise((r) => setTimeout(r, 15));
  }
  throw new Error("deliveries still pending");
}

/** The endpoint has been failing since `days` ago (its first failure, moved back in time). */
const failingFor = (x, days) => system("UPDATE webhook_endpoints SET failing_since = now() - make_interval(secs => $2) WHERE id = $1", [x.id, days * 86_400]);

const state = async (x) =>
  (await system("SELECT status, disabled_reason, failing_since FROM webhook_endpoints WHERE id = $1", [x.id]))[0];
const failedAttempts = async (x) =>
  (await system("SELECT count(*)::int AS n FROM webhook_attempts WHERE endpoint_id = $1 AND outcome <> 'ok'", [x.id]))[0].n;
const storedEvents = async (type) => system("SELECT tenant_id, data FROM webhook_operational_events WHERE type = $1", [type]);

test("failing for 5 days with 10 failed attempts: the exhausting delivery disables the endpoint, endpoint.disabled once", async () => {
  const x = await endpoint(10);
  // Two deliveries exhaust together; the endpoint is disabled once.
  await send(x, { n: 1 });
  await send(x, { n: 2 });
  await firstRound(x);
  assert.ok((await state(x)).failing_since instanceof Date, "the first failure starts the clock");
  await failingFor(x, 5.01);
  await drainAll(x);
  const s = await state(x);
  assert.deepEqual([s.status, s.disabled_reason], ["disabled", "failing"]);
  assert.ok((await failedAttempts(x)) >= 10);
  const stored = await storedEvents("endpoint.disabled");
  assert.equal(stored.length, 1, JSON.stringify(stored));
  assert.deepEqual([stored[0].tenant_id, stored[0].data], [x.tenant, { endpointId: x.publicId, reason: "failing" }]);
  assert.deepEqual(events.filter((e) => e.type === "endpoint.disabled").map((e) => e.data), [{ endpointId: x.publicId, reason: "failing" }]);
  // Disabled: new messages get no delivery; nothing more is sent.
  const before = received;
  await send(x, { n: 3 });
  await x.w.drain({ maxMs: 2_000 });
  assert.equal(received, before);
  assert.equal((await storedEvents("endpoint.disabled")).length, 1, "still once");
});

test("5 days of failures but fewer than 10 failed attempts: not disabled", async () => {
  const x = await endpoint(6);
  await send(x, { n: 1 });
  await firstRound(x);
  await failingFor(x, 6);
  await drainAll(x);
  assert.equal(await failedAttempts(x), 6);
  const [d] = await system("SELECT status FROM webhook_deliveries");
  assert.equal(d.status, "exhausted");
  assert.equal((await state(x)).status, "enabled");
  assert.equal((await storedEvents("endpoint.disabled")).length, 0);
});

test("10 failed attempts within 4 days: not disabled", async () => {
  const x = await endpoint(12);
  await send(x, { n: 1 });
  await firstRound(x);
  await failingFor(x, 4);
  await drainAll(x);
  assert.equal(await failedAttempts(x), 12);
  assert.equal((await state(x)).status, "enabled");
  assert.equal((await storedEvents("endpoint.disabled")).length, 0);
});

test("one success on day 4 resets it: the failures after it are counted from then", async () => {
  const x = await endpoint(10);
  await send(x, { n: 1 });
  await firstRound(x);
  // Failing since day 0; on day 4 (one day ago) one delivery succeeds.
  await failingFor(x, 5.01);
  status = 204;
  await send(x, { ok: 1 });
  await firstRound(x);
  assert.equal((await state(x)).failing_since, null, "a success clears failing_since");
  // Failing again from then on: the clock restarted on day 4, a day ago.
  status = 500;
  await send(x, { n: 3 });
  await firstRound(x);
  const restarted = await state(x);
  assert.ok(restarted.failing_since instanceof Date && Date.now() - restarted.failing_since.getTime() < 60_000, "set again by the next failure");
  await failingFor(x, 1.01);
  await drainAll(x);
  assert.ok((await failedAttempts(x)) >= 10, "enough failures, but not for 5 days since the success");
  const [d] = await system("SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'exhausted'");
  assert.equal(d.n, 1);
  assert.equal((await state(x)).status, "enabled");
  assert.equal((await storedEvents("endpoint.disabled")).length, 0);
});
