// suite: once (scripts/test.sh runs it once; the others run on each backend)
// The adapters' `prepare` option: with it, node-postgres runs the products' statements as named
// prepared statements (parsed and planned once per connection), sends and deliveries work the
// same, and without it nothing is prepared. Not run through PgBouncer 1.18 in transaction mode,
// which cannot carry prepared statements (hence the option's default, off).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { inTenant, loopbackConfig, recordingReceiver, webhooksDatabase } from "./helpers/webhooks.mjs";
import { requireEnv } from "./helpers/db.mjs";

const KEY = randomBytes(32).toString("base64");
let db, receiver;
const pools = [];

before(async () => {
  db = await webhooksDatabase("webhooks_prepare", 2);
  await db.pool.query(betterWebhooks(loopbackConfig(db.pool, KEY)).migrationSql(2));
  receiver = await recordingReceiver();
});

after(async () => {
  for (const p of pools) await p.end();
  await receiver?.close();
  await db?.drop();
});

/** One connection, so what it prepared can be read back on it. */
function onePool() {
  const u = new URL(requireEnv("DATABASE_URL"));
  const p = new pg.Pool({ host: u.hostname, port: Number(u.port), user: "app", password: "app", database: db.name, max: 1 });
  pools.push(p);
  return p;
}

const prepared = async (pool) => (await pool.query("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'ub\\_%'")).rows;

for (const prepare of [true, false]) {
  test(`prepare: ${prepare}: send() and drain() deliver; statements ${prepare ? "are" : "are not"} prepared on the connection`, async () => {
    const pool = onePool();
    const w = betterWebhooks({ ...loopbackConfig(pool, KEY), database: sqlExecutorAdapter(pool, { prepare }) });
    const tenant = randomUUID();
    const before = receiver.received.length;
    await w.endpoints.create({ url: receiver.url("/p") }, { tenantId: tenant });
    const sent = await inTenant(pool, tenant, (c) => w.sendMany([{ eventType: "invoice.paid", payload: { prepare } }, { eventType: "invoice.paid", payload: { again: prepare } }], { tx: c }));
    assert.deepEqual(await w.drain({ maxMs: 5_000 }), { delivered: 2 });
    assert.deepEqual(receiver.received.slice(before).map((r) => r.headers["webhook-id"]).sort(), sent.map((m) => m.id).sort());
    const rows = await prepared(pool);
    if (prepare) {
      assert.ok(rows.some((r) => r.statement.includes("lease_token = gen_random_uuid()")), "the claim is prepared");
      assert.ok(rows.some((r) => r.statement.startsWith("INSERT INTO") && r.statement.includes("webhook_messages")), "the send's insert is prepared");
      // The same text has the same name every time: a second drain prepares nothing new.
      await w.drain({ maxMs: 1_000 });
      assert.equal((await prepared(pool)).length, rows.length);
    } else {
      assert.deepEqual(rows, []);
    }
  });
}

test("bad adapter options are refused with a coded error naming the option", () => {
  for (const [make, code] of [
    [(o) => sqlExecutorAdapter(db.pool, o), "WEBHOOKS_INVALID_ARGUMENT"],
    [(o) => sqlEmailAdapter(db.pool, o), "EMAIL_INVALID_ARGUMENT"],
  ]) {
    assert.throws(() => make({ prepare: "yes" }), (e) => e.code === code && /options\.prepare/.test(e.message));
    assert.throws(() => make({ prepared: true }), (e) => e.code === code && /unknown key `prepared`/.test(e.message));
    assert.throws(() => make(42), (e) => e.code === code && /options/.test(e.message));
  }
});
