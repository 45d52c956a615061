// suite: once (scripts/test.sh runs it once; the others run on each backend)
// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// 10,000 interleaved requests over 50 tenants on a pool of 2, through Hono and Express, with
// random handler errors and client aborts. Every row a request sees or stamps is checked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import express from "express";
import pg from "pg";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import { createExpressMiddleware } from "@usebetterdev/tenant/express";
import { projects, tenantDatabase } from "./helpers/app.mjs";

const REQUESTS = Number(process.env.CONCURRENCY_REQUESTS ?? 10_000);
const TENANTS = 50;
const IN_FLIGHT = 16;
let env;
let tenant;
let slugs;
const servers = [];

before(async () => {
  env = await tenantDatabase("tconc", { poolSize: 2 });
  const c = new pg.Client({ connectionString: env.url });
  await c.connect();
  await c.query("BEGIN; SELECT set_config('app.bypass_rls', 'true', true)");
  const { rows } = await c.query(
    `INSERT INTO tenants (name, slug) SELECT 'T' || i, 't' || i FROM generate_series(1, ${TENANTS}) i RETURNING id::text, slug`,
  );
  slugs = Object.fromEntries(rows.map((r) => [r.slug, r.id]));
  await c.query(`INSERT INTO projects (tenant_id, name) SELECT t.id, t.slug || '-p' || g FROM tenants t, generate_series(1, 3) g WHERE t.slug LIKE 't%'`);
  await c.query("COMMIT");
  await c.end();
  tenant = betterTenant({ database: drizzleDatabase(env.db), tenantResolver: { header: "x-tenant-id" } });
});

after(async () => {
  for (const s of servers) s.close();
  await env?.close();
});

/**
 * What the slow (to-be-aborted) requests share between client and server, which run in one
 * process: the client aborts only once its handler is waiting, and the test waits for every
 * such handler to finish before judging, so the outcome does not depend on timing.
 */
function newStats() {
  const waiting = new Map();
  const stats = { leaks: 0, queriedAfterAbort: 0, closedAfterAbort: 0, pending: 0 };
  const entry = (id) => {
    if (!waiting.has(id)) {
      let resolve;
      waiting.set(id, { promise: new Promise((r) => (resolve = r)), resolve });
    }
    return waiting.get(id);
  };
  stats.reached = (id) => entry(id).promise;
  stats.arrive = (id) => entry(id).resolve();
  stats.settled = async () => {
    for (let i = 0; stats.pending > 0 && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(stats.pending, 0, "every aborted handler finished");
  };
  return stats;
}

/** Shared handler logic; `leaks` counts any row of another tenant seen or stamped. */
function makeHandler(stats) {
  return async function handle({ expected, name, fail, slow, aborted, id }) {
    const db = tenant.getDatabase();
    const check = (rows) => {
      for (const r of rows) if (r.tenantId !== expected) stats.leaks++;
    };
    check(await db.select().from(projects));
    if (name) {
      const [row] = await db.insert(projects).values({ name }).returning();
      check([row]);
    }
    if (slow) {
      stats.pending++;
      try {
        stats.arrive(id);
        await aborted;
        check(await db.select().from(projects));
        stats.queriedAfterAbort++;
      } catch (err) {
        if (err?.name === "TenantScopeClosedError") stats.closedAfterAbort++;
        else throw err;
      } finally {
        stats.pending--;
      }
    }
    if (fail) throw new Error("random failure");
    return { ok: true };
  };
}

async function drive(base, stats) {
  const keys = Object.keys(slugs);
  let next = 0;
  const outcomes = { ok: 0, failed: 0, aborted: 0, wrote: [] };
  async function one(i) {
    const slug = keys[(i * 7919) % keys.length];
    const roll = (i * 2654435761) % 100;
    const fail = roll < 10;
    const abort = roll >= 10 && roll < 15;
    const write = roll % 3 === 0;
    const name = write ? `req-${slug}-${i}${fail ? "-fail" : ""}${abort ? "-abort" : ""}` : "";
    const controller = new AbortController();
    const url = `${base}/api/work?name=${name}&fail=${fail ? 1 : 0}&slow=${abort ? 1 : 0}&id=${i}`;
    const request = fetch(url, { headers: { "x-tenant-id": slug }, signal: controller.signal });
    if (abort) Promise.race([stats.reached(String(i)), request.catch(() => {})]).then(() => controller.abort());
    try {
      const res = await request;
      await res.text();
      if (res.status === 200) {
        outcomes.ok++;
        if (name) outcomes.wrote.push({ name, slug });
      } else outcomes.failed++;
    } catch {
      outcomes.aborted++;
    }
  }
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < REQUESTS) await one(next++);
    }),
  );
  return outcomes;
}

/**
 * `closesOnAbort`: Express ends the scope when the client goes away, so the handler's later
 * queries must throw; Hono keeps the handler's own transaction until it returns (its queries
 * still run, on its own connection, and are rolled back).
 */
async function verify(label, stats, outcomes, { closesOnAbort }) {
  assert.equal(stats.leaks, 0, `${label}: rows of another tenant were seen`);
  assert.ok(outcomes.ok > REQUESTS * 0.7, `${label}: ok=${outcomes.ok}`);
  assert.ok(outcomes.failed >= REQUESTS * 0.05, `${label}: failed=${outcomes.failed}`);
  assert.ok(outcomes.aborted > 0, `${label}: no request was aborted`);
  if (closesOnAbort) {
    assert.equal(stats.queriedAfterAbort, 0, `${label}: a handler queried after its client went away`);
    assert.ok(stats.closedAfterAbort > 0, `${label}: no aborted handler hit the closed scope`);
  } else {
    assert.equal(stats.closedAfterAbort, 0, `${label}: a live handler found its scope closed`);
    assert.ok(stats.queriedAfterAbort > 0, `${label}: no aborted handler ran on`);
  }
  const c = new pg.Client({ connectionString: env.url });
  await c.connect();
  await c.query("BEGIN; SELECT set_config('app.bypass_rls', 'true', true)");
  const { rows } = await c.query("SELECT p.name, t.slug FROM projects p JOIN tenants t ON t.id = p.tenant_id WHERE p.name LIKE $1", [`req-%`]);
  await c.query("COMMIT");
  await c.end();
  const stored = new Map(rows.map((r) => [r.name, r.slug]));
  for (const [name, slug] of stored) {
    assert.ok(!name.endsWith("-fail") && !name.endsWith("-abort"), `${label}: ${name} was committed`);
    assert.ok(name.startsWith(`req-${slug}-`), `${label}: ${name} stamped with tenant ${slug}`);
  }
  for (const w of outcomes.wrote) assert.equal(stored.get(w.name), w.slug, `${label}: ${w.name} missing`);
}

/** Resolves once the client has gone away (immediately if it already has). */
function abortedPromise(res) {
  return res.closed ? Promise.resolve() : new Promise((resolve) => res.once("close", resolve));
}

function signalAborted(signal) {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener("abort", resolve));
}

test(`Hono: ${REQUESTS} requests, 0 leaks`, { timeout: 300_000 }, async () => {
  const stats = newStats();
  const handle = makeHandler(stats);
  const app = new Hono();
  app.use("/api/*", createHonoMiddleware(tenant));
  app.get("/api/work", async (c) => {
    const q = c.req.query();
    const aborted = signalAborted(c.req.raw.signal);
    return c.json(await handle({ expected: slugs[c.req.header("x-tenant-id")], name: q.name, fail: q.fail === "1", slow: q.slow === "1", aborted, id: q.id }));
  });
  app.onError((err, c) => c.json({ error: err.message }, 500));
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  servers.push(server);
  await new Promise((r) => server.once("listening", r));
  const outcomes = await drive(`http://127.0.0.1:${server.address().port}`, stats);
  await stats.settled();
  await verify("Hono", stats, outcomes, { closesOnAbort: false });
});

test(`Express: ${REQUESTS} requests, 0 leaks, aborted handlers cannot query`, { timeout: 300_000 }, async () => {
  const stats = newStats();
  const handle = makeHandler(stats);
  const app = express();
  app.use("/api", createExpressMiddleware(tenant));
  app.get("/api/work", async (req, res) => {
    const aborted = abortedPromise(res);
    res.json(await handle({ expected: slugs[req.get("x-tenant-id")], name: req.query.name, fail: req.query.fail === "1", slow: req.query.slow === "1", aborted, id: req.query.id }));
  });
  app.use((err, _req, res, _next) => res.status(500).json({ error: err.message }));
  const server = http.createServer(app);
  servers.push(server);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const outcomes = await drive(`http://127.0.0.1:${server.address().port}`, stats);
  await stats.settled();
  await verify("Express", stats, outcomes, { closesOnAbort: true });
});
