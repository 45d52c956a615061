// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The query API and manual actions under row-level security: tenant A never sees, replays or
// recovers tenant B's endpoints, messages, deliveries or attempts, through the API or raw SQL in
// its scope; keyset pages; replay and recover; idempotency keys raced by two transactions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksDatabase, inTenant } from "./helpers/webhooks.mjs";

const A = randomUUID();
const B = randomUUID();
let db, pool, w, url, server, fail = false;
const got = [];

before(async () => {
  db = await webhooksDatabase("webhooks_api");
  pool = db.pool;
  w = betterWebhooks({
    database: sqlExecutorAdapter(pool),
    eventTypes: ["invoice.paid", "user.created"],
    secretsKey: randomBytes(32).toString("base64"),
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: [0.05], jitter: 0 },
  });
  await pool.query(w.migrationSql(2));
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      got.push(req.headers["webhook-id"]);
      res.writeHead(fail ? 500 : 204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${server.address().port}/`;
});

after(async () => {
  server?.close();
  await db?.drop();
});

const scope = (tenant, fn) => inTenant(pool, tenant, fn);

test("tenant isolation through every API and through raw SQL in a tenant's scope", async () => {
  const ea = (await w.endpoints.create({ url }, { tenantId: A })).endpoint;
  const eb = (await w.endpoints.create({ url }, { tenantId: B })).endpoint;
  const ma = await scope(A, (c) => w.sendMany(Array.from({ length: 7 }, (_, i) => ({ eventType: "invoice.paid", payload: { i } })), { tx: c }));
  const mb = await scope(B, (c) => w.send({ eventType: "user.created", payload: { b: 1 } }, { tx: c }));
  await w.drain({ maxMs: 10_000 });
  assert.equal(got.length, 8);

  await scope(A, async (tx) => {
    const o = { tx };
    assert.deepEqual((await w.endpoints.list({}, o)).data.map((e) => e.id), [ea.id]);
    const notFound = async (p) => assert.equal((await p.then(() => null, (e) => e))?.code, "WEBHOOKS_NOT_FOUND");
    await notFound(w.endpoints.get(eb.id, o));
    await notFound(w.messages.get(mb.id, o));
    await notFound(w.replay({ messageId: mb.id }, o));
    await notFound(w.recover({ endpointId: eb.id, since: new Date(Date.now() - 3_600_000) }, o));
    await notFound(w.endpoints.revealSecret(eb.id, o));
    assert.equal((await w.messages.get(ma[0].id, o)).id, ma[0].id);
    // Pages of 3 over A's 7 messages, newest first, no overlap, nothing of B.
    const seen = [];
    let cursor;
    do {
      const page = await w.messages.list({ limit: 3, ...(cursor ? { cursor } : {}) }, o);
      assert.ok(page.data.length <= 3);
      seen.push(...page.data.map((m) => m.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(new Set(seen), new Set(ma.map((m) => m.id)));
    assert.equal(seen.length, 7);
    const deliveries = await w.deliveries.list({}, o);
    assert.equal(deliveries.data.length, 7);
    assert.ok(deliveries.data.every((d) => d.endpointId === ea.id && d.status === "succeeded" && /^dlv_/.test(d.id)));
    const attempts = await w.attempts.list({ endpointId: ea.id }, o);
    assert.equal(attempts.data.length, 7);
    assert.ok(attempts.data.every((a) => !("operatorError" in a) && !("workerId" in a)), "operator-only columns never reach tenants");
    const bad = await w.messages.list({ cursor: deliveries.nextCursor ?? "AAAA" }, o).catch((e) => e);
    assert.equal(bad.code, "WEBHOOKS_INVALID_ARGUMENT");
    const stats = await w.stats({ window: "1h" }, o);
    assert.equal(stats.delivered, 7);
    // Raw SQL in A's scope sees none of B's rows in any table.
    for (const table of ["endpoints", "messages", "deliveries", "attempts"]) {
      const { rows } = await tx.query(`SELECT count(*)::int AS n FROM webhook_${table} WHERE tenant_id IS DISTINCT FROM $1`, [A]);
      assert.equal(rows[0].n, 0, table);
    }
    const { rowCount } = await tx.query("UPDATE webhook_endpoints SET url = 'https://evil.example/' WHERE tenant_id = $1", [B]);
    assert.equal(rowCount, 0);
  });
});

test("replay sends the same webhook-id once more; recover brings exhausted deliveries back", async () => {
  const t = randomUUID();
  const { endpoint } = await w.endpoints.create({ url }, { tenantId: t });
  const m = await scope(t, (c) => w.send({ eventType: "invoice.paid", payload: { r: 1 } }, { tx: c }));
  await w.drain({ maxMs: 5_000 });
  got.length = 0;
  assert.deepEqual(await scope(t, (tx) => w.replay({ messageId: m.id }, { tx })), { replayed: 1 });
  await w.drain({ maxMs: 5_000 });
  assert.deepEqual(got, [m.id]);
  const [last] = (await scope(t, (tx) => w.attempts.list({ endpointId: endpoint.id, limit: 1 }, { tx }))).data;
  assert.equal(last.trigger, "manual");

  fail = true;
  const m2 = await scope(t, (c) => w.send({ eventType: "invoice.paid", payload: { r: 2 } }, { tx: c }));
  for (let i = 0; i < 4; i++) {
    await w.drain({ maxMs: 5_000 });
    await new Promise((r) => setTimeout(r, 80));
  }
  const exhausted = await scope(t, (tx) => w.deliveries.list({ status: "exhausted" }, { tx }));
  assert.equal(exhausted.data.length, 1);
  fail = false;
  got.length = 0;
  const { recovered } = await scope(t, (tx) => w.recover({ endpointId: endpoint.id, since: new Date(Date.now() - 3_600_000) }, { tx }));
  assert.equal(recovered, 1);
  await w.drain({ maxMs: 5_000 });
  assert.deepEqual(got, [m2.id]);
});

test("one idempotency key in two concurrent transactions: exactly one message, whichever commits first", async () => {
  const t = randomUUID();
  const key = `k/${randomUUID()}`;
  const first = await pool.connect();
  const second = await pool.connect();
  try {
    for (const c of [first, second]) {
      await c.query("BEGIN");
      await c.query("SELECT set_config('app.current_tenant', $1, true)", [t]);
    }
    const r1 = await w.send({ eventType: "invoice.paid", payload: { x: 1 }, idempotencyKey: key }, { tx: first });
    let settled = false;
    const p2 = w.send({ eventType: "invoice.paid", payload: { x: 1 }, idempotencyKey: key }, { tx: second }).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(settled, false, "the second send waits for the first transaction");
    await first.query("COMMIT");
    const r2 = await p2;
    await second.query("COMMIT");
    assert.equal(r1.status, "queued");
    assert.deepEqual([r2.status, r2.id], ["duplicate", r1.id]);
    const { rows } = await scope(t, (c) => c.query("SELECT count(*)::int AS n FROM webhook_messages WHERE idempotency_key = $1", [key]));
    assert.equal(rows[0].n, 1);
  } finally {
    first.release();
    second.release();
  }
});
