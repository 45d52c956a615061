// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Retry decisions end to end (spec §9, §20 W8) with a loopback receiver and real PostgreSQL:
// a 410 disables the endpoint after one attempt with reason `gone`; a 429's Retry-After and a
// timeout push the next attempt out at least as far as the spec says; a delivery that fails
// through its whole schedule ends `exhausted` and emits `message.attempt.exhausted` once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { webhooksDatabase, inTenant, asSystem, loopbackConfig } from "./helpers/webhooks.mjs";

const KEY = randomBytes(32).toString("base64");
let db;
const servers = [];

before(async () => {
  db = await webhooksDatabase("webhooks_retry");
  await db.pool.query(betterWebhooks(loopbackConfig(db.pool, KEY)).migrationSql(2));
});

after(async () => {
  for (const s of servers) s.closeAllConnections?.(), s.close();
  await db?.drop();
});

/** A receiver that answers every request with `answer(req)`: `[status, headers]` or null to never answer. */
async function receiver(answer) {
  const got = [];
  const server = createServer((req, res) => {
    got.push(req.url);
    req.resume();
    const a = answer(req);
    if (a) res.writeHead(a[0], a[1] ?? {}).end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { got, url: `http://127.0.0.1:${server.address().port}/hook` };
}

async function oneMessage(hooks, url) {
  const tenant = randomUUID();
  const { endpoint } = await hooks.endpoints.create({ url }, { tenantId: tenant });
  await inTenant(db.pool, tenant, (c) => hooks.send({ eventType: "invoice.paid", payload: { n: 1 } }, { tx: c }));
  return { tenant, endpoint, uuid: core.webhookId("endpoint", endpoint.id, false) };
}

const delivery = async (endpoint) =>
  (await asSystem(db.pool, "SELECT status, attempt_count, last_outcome, extract(epoch FROM next_attempt_at - now()) AS wait FROM webhook_deliveries WHERE endpoint_id = $1", [endpoint]))[0];

test("410 Gone: one attempt, the endpoint is disabled with reason `gone`, endpoint.disabled is emitted", async () => {
  const events = [];
  const r = await receiver(() => [410]);
  const hooks = betterWebhooks(loopbackConfig(db.pool, KEY, { onEvent: (e) => events.push(e) }));
  const { endpoint, uuid } = await oneMessage(hooks, r.url);
  await hooks.drain({ maxMs: 5_000 });
  await new Promise((res) => setTimeout(res, 300)); // past every retry the schedule would allow
  await hooks.drain({ maxMs: 5_000 });
  assert.equal(r.got.length, 1);
  const [e] = await asSystem(db.pool, "SELECT status, disabled_reason FROM webhook_endpoints WHERE id = $1", [uuid]);
  assert.deepEqual(e, { status: "disabled", disabled_reason: "gone" });
  assert.deepEqual(events.filter((x) => x.type === "endpoint.disabled").map((x) => x.data), [{ endpointId: endpoint.id, reason: "gone" }]);
});

test("429 with Retry-After: 120 waits at least 120 s; a timeout waits at least 60 s", async () => {
  const throttled = await receiver(() => [429, { "retry-after": "120" }]);
  const hooks = betterWebhooks(loopbackConfig(db.pool, KEY, { delivery: { retrySchedule: [0.05, 0.05], jitter: 0, timeoutMs: 1000 } }));
  const a = await oneMessage(hooks, throttled.url);
  await hooks.drain({ maxMs: 5_000, maxDeliveries: 1 });
  const d1 = await delivery(a.uuid);
  assert.equal(d1.status, "pending");
  assert.equal(d1.last_outcome, "throttled");
  assert.ok(Number(d1.wait) >= 119, `next attempt in ${d1.wait} s after Retry-After: 120`);

  const silent = await receiver(() => null);
  const b = await oneMessage(hooks, silent.url);
  const t0 = Date.now();
  await hooks.drain({ maxMs: 5_000, maxDeliveries: 1 });
  const took = Date.now() - t0;
  assert.ok(took >= 900 && took < 3_000, `the attempt ended at the 1 s timeout (${took} ms)`);
  const d2 = await delivery(b.uuid);
  assert.equal(d2.last_outcome, "timeout");
  assert.ok(Number(d2.wait) >= 59, `next attempt in ${d2.wait} s after a timeout`);
});

test("a delivery failing through its whole schedule ends exhausted and emits message.attempt.exhausted once", async () => {
  const events = [];
  const r = await receiver(() => [500]);
  const hooks = betterWebhooks(loopbackConfig(db.pool, KEY, { onEvent: (e) => events.push(e) }));
  const { uuid } = await oneMessage(hooks, r.url);
  const end = Date.now() + 10_000;
  while ((await delivery(uuid))?.status !== "exhausted" && Date.now() < end) {
    await hooks.drain({ maxMs: 2_000 });
    await new Promise((res) => setTimeout(res, 60));
  }
  const d = await delivery(uuid);
  assert.equal(d.status, "exhausted");
  assert.equal(d.attempt_count, 4, "the first attempt and the schedule's three retries");
  assert.equal(r.got.length, 4);
  await hooks.drain({ maxMs: 500 });
  assert.equal(events.filter((e) => e.type === "message.attempt.exhausted").length, 1);
  assert.equal(events.filter((e) => e.type === "message.attempt.failing").length, 1, "at the fourth attempt");
});
