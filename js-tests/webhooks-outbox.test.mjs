// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Outbound webhooks end to end against real PostgreSQL (row-level security on, as a role
// without BYPASSRLS) and a loopback receiver: a message exists iff its transaction committed
// (node-postgres, postgres.js, Drizzle on both, Prisma, the tenant package's scope), every committed
// message arrives once, signed; bad input is
// refused with a coded error before any SQL runs; idempotency keys; retries on the schedule.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import { prismaWebhooksAdapter } from "@usebetterdev/webhooks/prisma";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { sql } from "drizzle-orm";
import core from "@usebetter-rs/core";
import { betterWebhooks, defineEventTypes } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { drizzleWebhooksAdapter } from "@usebetterdev/webhooks/drizzle";
import { webhooksDatabase, inTenant as inTenantOf, operatorPool, whileRefusing } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
const OTHER = randomUUID();
let db, pool, server, url;
const received = [];
let failNext = 0;

function config(database, extra = {}) {
  return {
    database,
    eventTypes: defineEventTypes({ "invoice.paid": {}, "user.created": {} }),
    secretsKey: randomBytes(32).toString("base64"),
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: [0.05, 0.05], jitter: 0 },
    ...extra,
  };
}

before(async () => {
  db = await webhooksDatabase("webhooks_outbox");
  pool = db.pool;
  const setup = betterWebhooks(config(sqlExecutorAdapter(pool)));
  await pool.query(setup.migrationSql(2));
  await pool.query("CREATE TABLE invoices (id serial PRIMARY KEY, tenant_id uuid NOT NULL)");
  // The tenant package's own table, so its scopes (runAs) can run here.
  await pool.query("CREATE TABLE tenants (id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())");
  await pool.query("INSERT INTO tenants (id, name, slug) VALUES ($1, 'Acme', 'acme')", [TENANT]);
  server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      if (failNext > 0) {
        failNext--;
        res.writeHead(500).end("try again");
      } else res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${server.address().port}/hooks`;
});

after(async () => {
  server?.close();
  await db?.drop();
});

const inTenant = (tenant, fn) => inTenantOf(pool, tenant, fn);

/** A postgres.js client and a Prisma client (driver adapter) on the test database, as `app`. */
function clients(max) {
  const u = new URL(process.env.DATABASE_URL);
  const pgjs = postgres({ host: u.hostname, port: Number(u.port), user: "app", password: "app", database: db.name, max, onnotice: () => {} });
  u.username = "app";
  u.password = "app";
  u.pathname = `/${db.name}`;
  return { pgjs, prisma: new PrismaClient({ adapter: new PrismaPg({ connectionString: u.toString(), max }) }) };
}

function verify(r, secret) {
  const headers = Object.entries(r.headers).filter(([k]) => k.startsWith("webhook-"));
  return core.webhookVerify(headers, r.body, { secret, now: Math.floor(Date.now() / 1000) });
}

test("a message is delivered iff its transaction committed: node-postgres and Drizzle, each once, signed", async () => {
  received.length = 0;
  const w = betterWebhooks(config(sqlExecutorAdapter(pool)));
  const { endpoint, secret } = await w.endpoints.create({ url }, { tenantId: TENANT });
  assert.match(endpoint.id, /^ep_[0-9a-z]{26}$/);
  const wd = betterWebhooks(config(drizzleWebhooksAdapter(drizzle(pool))));
  const committed = new Set();
  for (let i = 0; i < 200; i++) {
    const rollback = i % 2 === 1;
    const viaDrizzle = i % 4 >= 2;
    try {
      if (viaDrizzle) {
        await drizzle(pool).transaction(async (tx) => {
          await tx.execute(sql`SELECT set_config('app.current_tenant', ${TENANT}, true)`);
          await tx.execute(sql`INSERT INTO invoices (tenant_id) VALUES (${TENANT})`);
          const r = await wd.send({ eventType: "invoice.paid", payload: { i } }, { tx });
          if (rollback) throw new Error("rolled back");
          committed.add(r.id);
        });
      } else {
        await inTenant(TENANT, async (c) => {
          await c.query("INSERT INTO invoices (tenant_id) VALUES ($1)", [TENANT]);
          const r = await w.send({ eventType: "invoice.paid", payload: { i } }, { tx: c });
          if (rollback) throw new Error("rolled back");
          committed.add(r.id);
        });
      }
    } catch (err) {
      assert.equal(err.message, "rolled back");
    }
  }
  assert.equal(committed.size, 100);
  const { delivered } = await w.drain({ maxMs: 20_000 });
  assert.equal(delivered, 100);
  const ids = received.map((r) => verify(r, secret).id);
  assert.deepEqual(new Set(ids), committed);
  assert.equal(ids.length, 100, "each message once");
  const { rows } = await inTenant(TENANT, (c) => c.query("SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status"));
  assert.deepEqual(rows, [{ status: "succeeded", n: 100 }]);
  await w.endpoints.delete(endpoint.id, { tenantId: TENANT });
});

test("W3 at size: 1,200 transactions over six clients and scopes, half rolled back: exactly the committed ones arrive, once each", async () => {
  received.length = 0;
  const { pgjs, prisma } = clients(2);
  try {
    const w = betterWebhooks(config(sqlExecutorAdapter(pool)));
    const { endpoint, secret } = await w.endpoints.create({ url }, { tenantId: TENANT });
    const viaPgjs = betterWebhooks(config(sqlExecutorAdapter(pgjs)));
    const viaDrizzlePg = betterWebhooks(config(drizzleWebhooksAdapter(drizzle(pool))));
    const viaDrizzlePgjs = betterWebhooks(config(drizzleWebhooksAdapter(drizzlePostgres(pgjs))));
    const viaPrisma = betterWebhooks(config(prismaWebhooksAdapter(prisma)));
    const tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
    const setTenant = sql`SELECT set_config('app.current_tenant', ${TENANT}, true)`;
    const insert = sql`INSERT INTO invoices (tenant_id) VALUES (${TENANT})`;
    // Each runs one transaction with a business write and a send(), throwing after it when asked.
    const variants = {
      "node-postgres": (i, fail) => inTenant(TENANT, async (c) => {
        await c.query("INSERT INTO invoices (tenant_id) VALUES ($1)", [TENANT]);
        const r = await w.send({ eventType: "invoice.paid", payload: { i } }, { tx: c });
        if (fail) throw new Error("rolled back");
        return r.id;
      }),
      "postgres.js": (i, fail) => pgjs.begin(async (tx) => {
        await tx`SELECT set_config('app.current_tenant', ${TENANT}, true)`;
        await tx`INSERT INTO invoices (tenant_id) VALUES (${TENANT})`;
        const r = await viaPgjs.send({ eventType: "invoice.paid", payload: { i } }, { tx });
        if (fail) throw new Error("rolled back");
        return r.id;
      }),
      "Drizzle on node-postgres": (i, fail) => drizzle(pool).transaction(async (tx) => {
        await tx.execute(setTenant);
        await tx.execute(insert);
        const r = await viaDrizzlePg.send({ eventType: "invoice.paid", payload: { i } }, { tx });
        if (fail) throw new Error("rolled back");
        return r.id;
      }),
      "Drizzle on postgres.js": (i, fail) => drizzlePostgres(pgjs).transaction(async (tx) => {
        await tx.execute(setTenant);
        await tx.execute(insert);
        const r = await viaDrizzlePgjs.send({ eventType: "invoice.paid", payload: { i } }, { tx });
        if (fail) throw new Error("rolled back");
        return r.id;
      }),
      "Prisma (interactive $transaction)": (i, fail) => prisma.$transaction(async (tx) => {
        await tx.$queryRawUnsafe("SELECT set_config('app.current_tenant', $1, true)", TENANT);
        await tx.$executeRawUnsafe("INSERT INTO invoices (tenant_id) VALUES ($1::uuid)", TENANT);
        const r = await viaPrisma.send({ eventType: "invoice.paid", payload: { i } }, { tx });
        if (fail) throw new Error("rolled back");
        return r.id;
      }),
      // No `tx`: send() joins the tenant package's scope (its transaction, its tenant).
      "@usebetterdev/tenant scope": (i, fail) => tenant.runAs(TENANT, async () => {
        await tenant.getDatabase().execute(insert);
        const r = await viaDrizzlePg.send({ eventType: "invoice.paid", payload: { i } });
        if (fail) throw new Error("rolled back");
        return r.id;
      }),
    };
    const names = Object.keys(variants);
    const committed = new Map(names.map((n) => [n, new Set()]));
    for (let i = 0; i < 200 * names.length; i++) {
      const name = names[i % names.length];
      const fail = Math.random() < 0.5;
      try {
        committed.get(name).add(await variants[name](i, fail));
        assert.equal(fail, false);
      } catch (err) {
        assert.equal(err.message, "rolled back", `${name}: ${err.stack}`);
      }
    }
    const all = new Set([...committed.values()].flatMap((s) => [...s]));
    // Random halves: each way of sending saw commits and rollbacks in plenty.
    for (const [name, ids] of committed) assert.ok(ids.size > 50 && ids.size < 150, `${name}: ${ids.size} committed of 200`);
    // The engine does not run on the Prisma adapter; the error names the adapter that does.
    await assert.rejects(viaPrisma.drain({ maxMs: 1_000 }), { code: "WEBHOOKS_INVALID_CONFIG", message: /sqlExecutorAdapter\(pool\)/ });
    assert.throws(() => viaPrisma.createWorker(), { code: "WEBHOOKS_INVALID_CONFIG" });
    const { delivered } = await w.drain({ maxMs: 60_000, maxDeliveries: 10_000 });
    assert.equal(delivered, all.size);
    const ids = received.map((r) => verify(r, secret).id);
    assert.equal(ids.length, all.size, "each committed message once");
    assert.deepEqual(new Set(ids), all);
    await w.endpoints.delete(endpoint.id, { tenantId: TENANT });
  } finally {
    await pgjs.end();
    await prisma.$disconnect();
  }
});

test("send results carry the stored id and creation time through every adapter, for new messages and duplicates alike", async () => {
  const { pgjs, prisma } = clients(1);
  // Counts the second calls into the core: a send whose messages are all new needs none after
  // its INSERT (the core announced the ids with it).
  let nexts = 0;
  const sendNext = core.Webhooks.prototype.sendNext;
  core.Webhooks.prototype.sendNext = function (...args) {
    nexts++;
    return sendNext.apply(this, args);
  };
  try {
    const setTenant = sql`SELECT set_config('app.current_tenant', ${TENANT}, true)`;
    const adapters = {
      "node-postgres": [sqlExecutorAdapter(pool), (fn) => inTenant(TENANT, fn)],
      "postgres.js": [sqlExecutorAdapter(pgjs), (fn) => pgjs.begin(async (tx) => (await tx`SELECT set_config('app.current_tenant', ${TENANT}, true)`, fn(tx)))],
      "Drizzle on node-postgres": [drizzleWebhooksAdapter(drizzle(pool)), (fn) => drizzle(pool).transaction(async (tx) => (await tx.execute(setTenant), fn(tx)))],
      "Drizzle on postgres.js": [drizzleWebhooksAdapter(drizzlePostgres(pgjs)), (fn) => drizzlePostgres(pgjs).transaction(async (tx) => (await tx.execute(setTenant), fn(tx)))],
      Prisma: [prismaWebhooksAdapter(prisma), (fn) => prisma.$transaction(async (tx) => (await tx.$queryRawUnsafe("SELECT set_config('app.current_tenant', $1, true)", TENANT), fn(tx)))],
    };
    for (const [name, [adapter, transaction]] of Object.entries(adapters)) {
      const w = betterWebhooks(config(adapter));
      const key = `results/${randomUUID()}`;
      // New messages only (the INSERT's rows make the results), then a batch with a stored key,
      // the same key twice and a new message (the core judges the duplicates).
      const fresh = await transaction(async (tx) => [
        await w.send({ eventType: "invoice.paid", payload: { one: name } }, { tx }),
        ...(await w.sendMany([{ eventType: "invoice.paid", payload: { a: 1 }, idempotencyKey: key }, { eventType: "user.created", payload: { b: 2 } }], { tx })),
      ]);
      // One call: the key's claim; none for either INSERT.
      assert.equal(nexts, 1, name);
      await new Promise((r) => setTimeout(r, 20));
      const mixed = await transaction((tx) =>
        w.sendMany([
          { eventType: "invoice.paid", payload: { a: 1 }, idempotencyKey: key },
          { eventType: "user.created", payload: { c: 3 } },
          { eventType: "invoice.paid", payload: { d: 4 }, idempotencyKey: `${key}/2` },
          { eventType: "invoice.paid", payload: { d: 4 }, idempotencyKey: `${key}/2` },
        ], { tx }),
      );
      // Claim, lookup, and the INSERT whose batch holds duplicates: the core makes the results.
      assert.equal(nexts, 4, name);
      nexts = 0;
      assert.deepEqual([...fresh, ...mixed].map((r) => r.status), ["queued", "queued", "queued", "duplicate", "queued", "queued", "duplicate"], name);
      assert.equal(mixed[0].id, fresh[1].id, `${name}: the stored key's message`);
      assert.equal(mixed[3].id, mixed[2].id, `${name}: the batch's first message of the key`);
      for (const [i, r] of [...fresh, ...mixed].entries()) {
        assert.ok(r.createdAt instanceof Date, `${name} [${i}]`);
        const stored = await w.messages.get(r.id, { tenantId: TENANT });
        assert.equal(r.createdAt.getTime(), Math.floor(new Date(stored.createdAt).getTime()), `${name} [${i}]: ${r.id} as stored`);
      }
      // One transaction, one creation time; the second transaction's is later.
      assert.equal(fresh[0].createdAt.getTime(), fresh[2].createdAt.getTime(), name);
      assert.ok(mixed[1].createdAt > fresh[0].createdAt, name);
      assert.equal(mixed[0].createdAt.getTime(), fresh[1].createdAt.getTime(), `${name}: a duplicate's time is the stored message's`);
    }
  } finally {
    core.Webhooks.prototype.sendNext = sendNext;
    await pgjs.end();
    await prisma.$disconnect();
  }
});

test("bad input is refused with a coded error naming the field, before any SQL", async () => {
  const w = betterWebhooks(config(sqlExecutorAdapter(pool), { maxPayloadBytes: 1024 }));
  const refused = async (p, code, field) => {
    const err = await p.then(() => null, (e) => e);
    assert.ok(err, `expected ${code}`);
    assert.equal(err.code, code);
    if (field) assert.match(err.message, new RegExp(`\`${field.replace(/[.[\]]/g, "\\$&")}\``));
  };
  await inTenant(TENANT, async (c) => {
    await refused(w.send({ eventType: "invoice.payd", payload: {} }, { tx: c }), "WEBHOOKS_UNKNOWN_EVENT_TYPE", "eventType");
    await refused(w.send({ eventType: "invoice.paid", payload: { big: "x".repeat(2000) } }, { tx: c }), "WEBHOOKS_PAYLOAD_TOO_LARGE", "payload");
    await refused(w.send({ eventType: "invoice.paid", payload: { n: 1n } }, { tx: c }), "WEBHOOKS_PAYLOAD_INVALID", "payload");
    await refused(w.send({ eventType: "invoice.paid", payload: {}, idempotencyKey: "a\nb" }, { tx: c }), "WEBHOOKS_INVALID_ARGUMENT", "idempotencyKey");
    await refused(w.sendMany([{ eventType: "invoice.paid", payload: {} }, { eventType: "nope", payload: {} }], { tx: c }), "WEBHOOKS_UNKNOWN_EVENT_TYPE", "inputs[1].eventType");
    const { rows } = await c.query("SELECT count(*)::int AS n FROM webhook_messages WHERE created_at = now()");
    assert.equal(rows[0].n, 0, "nothing half-written");
  });
  await refused(w.send({ eventType: "invoice.paid", payload: {} }), "WEBHOOKS_NO_TRANSACTION");
  await refused(w.endpoints.create({ url: "http://10.0.0.1/" }, { tenantId: TENANT }), "WEBHOOKS_URL_FORBIDDEN", "url");
  await refused(w.endpoints.create({ url: "ftp://example.com/" }, { tenantId: TENANT }), "WEBHOOKS_URL_INVALID", "url");
  await refused(w.endpoints.create({ url: "https://example.com/", headers: { "x-a": "1\r\nx-b: 2" } }, { tenantId: TENANT }), "WEBHOOKS_INVALID_HEADER");
  assert.throws(() => betterWebhooks(config(sqlExecutorAdapter(pool), { delivery: { timoutMs: 1 } })), (e) => e.code === "WEBHOOKS_INVALID_CONFIG" && /unknown key `delivery\.timoutMs`/.test(e.message) && e.name === "WebhooksConfigError");
});

test("payloads are stored byte for byte: JSON with quotes, backslashes, non-ASCII and lone surrogates in the envelope; a raw envelope's string and object bodies", async () => {
  const payload = { q: 'say "hi"', b: "back\\slash", u: "žluťoučký 🐎", lone: "\ud800", ctl: "\u0001\n", n: [1.5, -0, null, true], nested: { "k\"ey": {} } };
  const standard = betterWebhooks(config(sqlExecutorAdapter(pool)));
  const raw = betterWebhooks(config(sqlExecutorAdapter(pool), { envelope: "raw" }));
  // Each message tagged by its ordering key, to find its row.
  const tag = (k) => ({ orderingKey: `bytes-${k}` });
  const stored = await inTenant(TENANT, async (c) => {
    await standard.sendMany([{ eventType: "invoice.paid", payload, ...tag(0) }, { eventType: "user.created", payload: "a string", ...tag(1) }], { tx: c });
    await standard.send({ eventType: "invoice.paid", payload, idempotencyKey: "bytes-2", ...tag(2) }, { tx: c });
    await standard.send({ eventType: "invoice.paid", payload: null, ...tag(5) }, { tx: c });
    await raw.send({ eventType: "invoice.paid", payload: 'one "raw" body', ...tag(6) }, { tx: c });
    await raw.sendMany([{ eventType: "invoice.paid", payload: 'not "JSON" \\ at all', ...tag(3) }, { eventType: "invoice.paid", payload, ...tag(4) }], { tx: c });
    return (await c.query("SELECT body, encode(body_sha256, 'hex') AS sha FROM webhook_messages WHERE ordering_key LIKE 'bytes-%' ORDER BY ordering_key")).rows;
  });
  const envelope = (type, data) => new RegExp(`^\\{"type":"${type.replace(".", "\\.")}","timestamp":"\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z","data":(.*)\\}$`, "s").exec(stored[data].body)?.[1];
  assert.equal(stored.length, 7);
  assert.equal(envelope("invoice.paid", 5), "null", "a null payload is the JSON null");
  assert.equal(stored[6].body, 'one "raw" body', "a single raw send: no head, no tail");
  assert.equal(envelope("invoice.paid", 0), JSON.stringify(payload));
  assert.equal(envelope("user.created", 1), '"a string"');
  assert.equal(envelope("invoice.paid", 2), JSON.stringify(payload));
  assert.equal(stored[3].body, 'not "JSON" \\ at all');
  assert.equal(stored[4].body, JSON.stringify(payload));
  for (const r of stored) assert.equal(r.sha, createHash("sha256").update(r.body).digest("hex"));
});

test("sendMany's bodies cross as one text: raw bodies holding the separator candidates, or all of them, empty bodies, and a batch with a duplicate arrive whole", async () => {
  const raw = betterWebhooks(config(sqlExecutorAdapter(pool), { envelope: "raw" }));
  const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join("");
  const batches = [
    ["a\u0001b", "", "\u0002", "{\"x\":\"\u0001\"}", ""],
    [controls.slice(0, -1), "c\"d\\e", "\ue000ž"],
    [controls + "\ue000", "", '{"q":"\\"}', "NULL"],
  ];
  for (const [b, bodies] of batches.entries()) {
    const tag = (i) => `sep-${b}-${String(i).padStart(2, "0")}`;
    const stored = await inTenant(TENANT, async (c) => {
      const sent = await raw.sendMany(bodies.map((payload, i) => ({ eventType: "invoice.paid", payload, orderingKey: tag(i) })), { tx: c });
      assert.deepEqual(sent.map((r) => r.status), bodies.map(() => "queued"));
      return (await c.query("SELECT body, encode(body_sha256, 'hex') AS sha FROM webhook_messages WHERE ordering_key LIKE $1 ORDER BY ordering_key", [`sep-${b}-%`])).rows;
    });
    assert.deepEqual(stored.map((r) => r.body), bodies, `batch ${b}`);
    for (const r of stored) assert.equal(r.sha, createHash("sha256").update(r.body).digest("hex"));
  }
  // A duplicate inside the batch: the caller passes the payloads of the inserted inputs only.
  const key = `sep-dup/${randomUUID()}`;
  const stored = await inTenant(TENANT, async (c) => {
    const sent = await raw.sendMany(
      [
        { eventType: "invoice.paid", payload: "first", idempotencyKey: key, orderingKey: "sep-dup-0" },
        { eventType: "invoice.paid", payload: "first", idempotencyKey: key, orderingKey: "sep-dup-1" },
        { eventType: "invoice.paid", payload: "third\u0001", orderingKey: "sep-dup-2" },
      ],
      { tx: c },
    );
    assert.deepEqual(sent.map((r) => r.status), ["queued", "duplicate", "queued"]);
    return (await c.query("SELECT ordering_key, body, encode(body_sha256, 'hex') AS sha FROM webhook_messages WHERE ordering_key LIKE 'sep-dup-%' ORDER BY ordering_key")).rows;
  });
  assert.deepEqual(stored.map((r) => [r.ordering_key, r.body]), [["sep-dup-0", "first"], ["sep-dup-2", "third\u0001"]]);
  for (const r of stored) assert.equal(r.sha, createHash("sha256").update(r.body).digest("hex"));
});

test("idempotency keys: a duplicate returns the first message, another body conflicts, a rollback frees the key", async () => {
  const w = betterWebhooks(config(sqlExecutorAdapter(pool)));
  const key = `invoice.paid/${randomUUID()}`;
  const first = await inTenant(TENANT, (c) => w.send({ eventType: "invoice.paid", payload: { a: 1 }, idempotencyKey: key }, { tx: c }));
  const again = await inTenant(TENANT, (c) => w.send({ eventType: "invoice.paid", payload: { a: 1 }, idempotencyKey: key }, { tx: c }));
  assert.equal(first.status, "queued");
  assert.deepEqual([again.status, again.id], ["duplicate", first.id]);
  const conflict = await inTenant(TENANT, (c) => w.send({ eventType: "invoice.paid", payload: { a: 2 }, idempotencyKey: key }, { tx: c })).catch((e) => e);
  assert.equal(conflict.code, "WEBHOOKS_IDEMPOTENCY_CONFLICT");
  // Another tenant's key space is its own.
  const other = await inTenant(OTHER, (c) => w.send({ eventType: "invoice.paid", payload: { a: 2 }, idempotencyKey: key }, { tx: c }));
  assert.equal(other.status, "queued");
  const freed = `k/${randomUUID()}`;
  await inTenant(TENANT, async (c) => {
    await w.send({ eventType: "invoice.paid", payload: { a: 1 }, idempotencyKey: freed }, { tx: c });
    throw new Error("rolled back");
  }).catch(() => undefined);
  const after = await inTenant(TENANT, (c) => w.send({ eventType: "invoice.paid", payload: { b: 1 }, idempotencyKey: freed }, { tx: c }));
  assert.equal(after.status, "queued");
});

test("autocommit: a keyed send whose INSERT fails leaves its key free (claim and INSERT commit together)", async () => {
  // Autocommit with `tenantId` acts as the operator (row-level security bypassed).
  const operator = operatorPool(db.name);
  const w = betterWebhooks(config(sqlExecutorAdapter(operator)));
  // The database refuses the message after the key's claim.
  await whileRefusing(pool, "webhook_messages", "body", async () => {
    const key = `auto/${randomUUID()}`;
    const o = { tx: "autocommit", tenantId: TENANT };
    await assert.rejects(w.send({ eventType: "invoice.paid", payload: { boom: true }, idempotencyKey: key }, o), /refused by the test/);
    // Another payload under the same key is a new message, neither a conflict nor a duplicate.
    const first = await w.send({ eventType: "invoice.paid", payload: { fine: true }, idempotencyKey: key }, o);
    assert.equal(first.status, "queued");
    const again = await w.send({ eventType: "invoice.paid", payload: { fine: true }, idempotencyKey: key }, o);
    assert.deepEqual([again.status, again.id, again.createdAt.getTime()], ["duplicate", first.id, first.createdAt.getTime()]);
    assert.equal((await w.messages.get(first.id, { tenantId: TENANT })).idempotencyKey, key);
    // Without a key, autocommit stays one statement on the pool.
    assert.equal((await w.send({ eventType: "invoice.paid", payload: { n: 1 } }, o)).status, "queued");
  }).finally(() => operator.end());
});

test("a failed attempt is retried on the schedule and the attempt log keeps both outcomes", async () => {
  const w = betterWebhooks(config(sqlExecutorAdapter(pool)));
  const tenant = randomUUID();
  const { secret } = await w.endpoints.create({ url }, { tenantId: tenant });
  received.length = 0;
  failNext = 1;
  const sent = await inTenant(tenant, (c) => w.send({ eventType: "user.created", payload: { id: 1 } }, { tx: c }));
  await w.drain({ maxMs: 5_000 });
  await new Promise((r) => setTimeout(r, 120));
  await w.drain({ maxMs: 5_000 });
  assert.deepEqual(received.map((r) => verify(r, secret).id), [sent.id, sent.id], "same webhook-id on the retry");
  const { rows } = await inTenant(tenant, (c) =>
    c.query("SELECT a.outcome, a.http_status, a.response_body FROM webhook_attempts a ORDER BY a.attempt_number"),
  );
  assert.deepEqual(rows.map((r) => [r.outcome, r.http_status]), [["http_error", 500], ["ok", 204]]);
  assert.equal(rows[0].response_body, "try again");
  // The other tenant's rows are invisible in this scope.
  const { rows: foreign } = await inTenant(tenant, (c) => c.query("SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id <> $1", [tenant]));
  assert.equal(foreign[0].n, 0);
});
