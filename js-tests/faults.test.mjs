// suite: last (scripts/test.sh runs it after every other suite: it restarts the cluster)
// Faults a production app meets: the server restarts, connections are terminated, locks are held,
// the pool runs dry, clients give up. The process must survive, recover by itself, lose no
// acknowledged write, and never wait without a bound. Runs on the private cluster only (it
// restarts it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import { betterTenant, TenantAcquireTimeoutError } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import pg from "pg";
import { eq, sql } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { pgTable, serial, text } from "drizzle-orm/pg-core";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import { prismaDatabase } from "@usebetterdev/tenant/prisma";
import { databaseAdapter, transactionOn } from "@usebetter-rs/core/db";
import { admin, connectAs, fixture } from "./helpers/db.mjs";
import { names, projects, tenantDatabase } from "./helpers/app.mjs";

let env;
let app;
let pgjs;
const crashes = [];
const onCrash = (err) => crashes.push(err);

/** The demo's shape: Hono, the tenant middleware, writes and reads through the scope. */
async function startApp(database) {
  const tenant = betterTenant({ database, tenantResolver: { header: "x-tenant-id" }, timeouts: { acquireMs: 2000 } });
  const hono = new Hono();
  hono.use("/api/*", createHonoMiddleware(tenant));
  hono.post("/api/write/:name", async (c) => {
    const [row] = await tenant.getDatabase().insert(projects).values({ name: c.req.param("name") }).returning();
    return c.json(row);
  });
  hono.get("/api/list", async (c) => c.json(await tenant.getDatabase().select().from(projects)));
  hono.get("/api/sleep", async (c) => {
    await tenant.getDatabase().execute(sql`SELECT pg_sleep(10)`);
    return c.json({ slept: true });
  });
  const chain = (e) => (e ? [e.message, ...chain(e.cause)] : []);
  hono.onError((err, c) => c.json({ error: chain(err).join(": ") }, 500));
  const server = serve({ fetch: hono.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

before(async () => {
  process.on("uncaughtException", onCrash);
  env = await tenantDatabase("faults", { poolSize: 4 });
  // The private cluster trades durability for speed; an acknowledged write must survive a crash here.
  const a = await admin();
  await a.query(`ALTER DATABASE "${new URL(env.url).pathname.slice(1)}" SET synchronous_commit = on`);
  await a.end();
  app = await startApp(drizzleDatabase(env.db));
});

after(async () => {
  process.off("uncaughtException", onCrash);
  app?.close();
  await pgjs?.end({ timeout: 1 });
  await env?.close();
});

/** Runs pg_ctl as the cluster's owner (the tests run as root on the private cluster). */
function pgCtl(...args) {
  const bin = `${process.env.PGBIN}/pg_ctl`;
  const cmd = process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  execFileSync(cmd[0], cmd[1], { stdio: "ignore", cwd: "/tmp" });
}

async function request(base, path, slug, method = "GET") {
  try {
    const res = await fetch(`${base}${path}`, { method, headers: { "x-tenant-id": slug }, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.json().catch(() => null) };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}

/** Writes through the app until stopped; records every write acknowledged with 2xx. */
function load(base, label, acknowledged, leaks) {
  let stop = false;
  let n = 0;
  const worker = async (slug) => {
    while (!stop) {
      const name = `w-${label}-${slug}-${n++}`;
      const w = await request(base, `/api/write/${name}`, slug, "POST");
      if (w.status === 200) {
        acknowledged.push({ name, slug });
        if (w.body.tenantId !== env.ids[slug]) leaks.push(w.body);
      }
      const l = await request(base, "/api/list", slug);
      if (l.status === 200) for (const row of l.body) if (row.tenantId !== env.ids[slug]) leaks.push(row);
    }
  };
  const running = Promise.all(["acme", "globex", "acme", "globex"].map(worker));
  return async () => {
    stop = true;
    await running;
  };
}

/** Waits (up to 5 s) for the backend running a query that contains `marker`, then terminates it. */
async function terminateRunning(marker, what) {
  const a = await admin();
  const dbName = new URL(env.url).pathname.slice(1);
  let pid;
  for (let i = 0; i < 200 && !pid; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const q = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE $2 AND pid <> pg_backend_pid()";
    pid = (await a.query(q, [dbName, `%${marker}%`])).rows[0]?.pid;
  }
  assert.ok(pid, what);
  await a.query("SELECT pg_terminate_backend($1)", [pid]);
  await a.end();
}

/**
 * Runs `transaction` (its statement sleeps and contains `marker`), terminates its backend, and
 * checks that the transaction failed and that no uncaught error reached the process.
 */
async function terminatedUnder(transaction, marker, what) {
  const outcome = transaction().then(
    () => "finished",
    (err) => err,
  );
  await terminateRunning(marker, what);
  assert.ok((await outcome) instanceof Error, "the transaction failed");
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(crashes.map(String), [], "no uncaught error reached the process");
}

/** Milliseconds from now until a request succeeds again. */
async function recovery(base) {
  const start = Date.now();
  for (;;) {
    if ((await request(base, "/api/list", "acme")).status === 200) return Date.now() - start;
    if (Date.now() - start > 10_000) return Infinity;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Under load: a fast restart, an immediate restart (a crash: no shutdown checkpoint), then the
 * app's connections terminated every 200 ms for 2 s. Returns the recovery time of each.
 */
async function faultRun(base, label) {
  assert.ok(process.env.PGDATA_DIR, "PGDATA_DIR is set by scripts/pg.sh");
  const acknowledged = [];
  const leaks = [];
  const stopLoad = load(base, label, acknowledged, leaks);
  const times = {};
  const dbName = new URL(env.url).pathname.slice(1);
  try {
    await new Promise((r) => setTimeout(r, 500));
    for (const mode of ["fast", "immediate"]) {
      pgCtl("-D", process.env.PGDATA_DIR, "-m", mode, "-w", "-t", "30", "restart");
      times[mode] = await recovery(base);
      await new Promise((r) => setTimeout(r, 300));
    }
    const a = await admin(dbName);
    for (let i = 0; i < 10; i++) {
      await a.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = 'app'", [dbName]);
      await new Promise((r) => setTimeout(r, 200));
    }
    await a.end();
    times.terminate = await recovery(base);
  } finally {
    await stopLoad();
  }
  assert.deepEqual(crashes.map(String), [], "no uncaught error reached the process");
  for (const [mode, ms] of Object.entries(times)) assert.ok(ms <= 2000, `${label}: recovered after ${mode} in ${ms} ms`);
  assert.deepEqual(leaks, [], "no row of another tenant in any response");
  const a = await admin(dbName);
  const { rows } = await a.query(`SELECT p.name, t.slug FROM projects p JOIN tenants t ON t.id = p.tenant_id WHERE p.name LIKE $1`, [`w-${label}-%`]);
  await a.end();
  const stored = new Map(rows.map((r) => [r.name, r.slug]));
  assert.ok(acknowledged.length > 20, `writes acknowledged: ${acknowledged.length}`);
  for (const w of acknowledged) assert.equal(stored.get(w.name), w.slug, `${w.name} acknowledged but missing`);
  assert.equal(rows.length, new Set(rows.map((r) => r.name)).size, "no write stored twice");
  console.log(`# ${label} recovery ms: ${JSON.stringify(times)}; acknowledged writes ${acknowledged.length}`);
}

test("node-postgres: server restarts (fast, immediate) and terminated connections: the process survives, recovers within 2 s, loses no acknowledged write", { timeout: 120_000 }, async () => {
  await faultRun(app.base, "pg");
});

test("postgres.js: the same faults, the same guarantees", { timeout: 120_000 }, async () => {
  pgjs = postgres(env.url, { max: 4, onnotice: () => {} });
  const js = await startApp(drizzleDatabase(drizzlePostgres(pgjs)));
  try {
    await faultRun(js.base, "pgjs");
  } finally {
    js.close();
  }
});

test("a connection terminated while a request holds it fails that request only", async () => {
  const sleeping = request(app.base, "/api/sleep", "acme");
  await terminateRunning("pg_sleep", "the sleeping request holds a backend");
  const failed = await sleeping;
  assert.equal(failed.status, 500);
  assert.match(failed.body.error, /terminat|connection/i, "the request's error is the connection's");
  assert.deepEqual(crashes.map(String), []);
  const next = await request(app.base, "/api/list", "globex");
  assert.equal(next.status, 200);
  assert.ok(names(next.body).includes("globex-1"));
  assert.deepEqual(next.body.filter((r) => r.tenantId !== env.ids.globex), []);
});

test("bounded waits: pool exhaustion, held locks and slow statements end with errors naming the limit", async () => {
  const small = await tenantDatabase("faultwait", { poolSize: 1 });
  try {
    const bounded = betterTenant({
      database: drizzleDatabase(small.db),
      tenantResolver: { header: "x-tenant-id" },
      timeouts: { acquireMs: 200, lockMs: 150, statementMs: 300 },
    });
    let release;
    const gate = new Promise((r) => (release = r));
    const holder = bounded.runAs(small.ids.acme, async () => gate);
    const started = Date.now();
    const waited = await bounded.runAs(small.ids.globex, async () => "ran").catch((e) => e);
    assert.ok(waited instanceof TenantAcquireTimeoutError, String(waited));
    assert.equal(waited.code, "TENANT_ACQUIRE_TIMEOUT");
    assert.match(waited.message, /timeouts\.acquireMs/);
    assert.ok(Date.now() - started < 1500, "gave up near the limit");
    release();
    await holder;
    // The connection that arrived after the timeout went back to the pool.
    assert.deepEqual(await bounded.runAs(small.ids.globex, async (db) => names(await db.select().from(projects))), ["globex-1"]);

    const locker = await admin(new URL(small.url).pathname.slice(1));
    await locker.query("BEGIN; LOCK TABLE projects IN ACCESS EXCLUSIVE MODE");
    const locked = await bounded.runAs(small.ids.acme, async (db) => db.select().from(projects)).catch((e) => e);
    await locker.query("ROLLBACK");
    await locker.end();
    assert.equal((locked.cause ?? locked).code, "55P03", `lock_timeout: ${locked}`);
    const slow = await bounded.runAs(small.ids.acme, async (db) => db.execute(sql`SELECT pg_sleep(2)`)).catch((e) => e);
    assert.equal((slow.cause ?? slow).code, "57014", `statement_timeout: ${slow}`);
    assert.deepEqual(await bounded.runAs(small.ids.acme, async (db) => names(await db.select().from(projects))), ["acme-1", "acme-2"]);
    assert.throws(() => betterTenant({ database: drizzleDatabase(small.db), tenantResolver: { header: "x" }, timeouts: { lockMs: -1 } }), /timeouts\.lockMs/);
  } finally {
    await small.close();
  }
});

test("a scope that asked for an idle connection just as its pool was ended still ends within acquireMs", async () => {
  const pool = new pg.Pool({ connectionString: env.url, max: 2 });
  const t = betterTenant({ database: drizzleDatabase(drizzlePg(pool)), tenantResolver: { header: "x-tenant-id" }, timeouts: { acquireMs: 300 } });
  await t.runAs(env.ids.acme, (db) => db.select().from(projects)); // one idle client, the scope's path warm
  const started = Date.now();
  // The scope finds an idle client and asks for it; the pool is ended before it hands it over.
  const pending = t.runAs(env.ids.acme, (db) => db.select().from(projects));
  const ended = pool.end();
  await assert.rejects(pending, (err) => err instanceof TenantAcquireTimeoutError || err?.cause instanceof TenantAcquireTimeoutError);
  assert.ok(Date.now() - started < 2000, `waited ${Date.now() - started} ms`);
  await ended;
});

test("a request whose client left while it waited for a connection never takes one", async () => {
  const small = await tenantDatabase("faultabort", { poolSize: 1 });
  const acquired = [];
  small.pool.on("acquire", () => acquired.push(Date.now()));
  const t = betterTenant({ database: drizzleDatabase(small.db), tenantResolver: { header: "x-tenant-id" } });
  let ran = 0;
  let release;
  const gate = new Promise((r) => (release = r));
  const app = new Hono();
  app.use("/api/*", createHonoMiddleware(t));
  app.get("/api/hold", async (c) => {
    await gate;
    return c.json({ held: true });
  });
  app.get("/api/work", async (c) => {
    ran++;
    return c.json(await t.getDatabase().select().from(projects));
  });
  const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => s.once("listening", r));
  const url = `http://127.0.0.1:${s.address().port}`;
  try {
    // UUIDs, not slugs: a slug lookup would take a connection of its own.
    const holding = fetch(`${url}/api/hold`, { headers: { "x-tenant-id": small.ids.acme } });
    while (acquired.length < 1) await new Promise((r) => setTimeout(r, 5));
    const controller = new AbortController();
    const gone = fetch(`${url}/api/work`, { headers: { "x-tenant-id": small.ids.acme }, signal: controller.signal }).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    assert.equal(await gone, "aborted");
    await new Promise((r) => setTimeout(r, 50));
    release();
    assert.equal((await holding).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ran, 0, "the aborted request's handler never ran");
    assert.equal(acquired.length, 1, "only the holder ever took a connection");
    const ok = await fetch(`${url}/api/work`, { headers: { "x-tenant-id": small.ids.globex } });
    assert.equal(ok.status, 200);
    assert.equal(acquired.length, 2);
    assert.equal(ran, 1);
  } finally {
    s.close();
    await small.close();
  }
});

test("a drizzle transaction outside any scope (an audit proxy's, a job's) survives its connection being terminated", async () => {
  // Not a tenant scope: drizzle checks the client out itself, so only the pool-wide listener hears it.
  await terminatedUnder(() => env.db.transaction(async (tx) => tx.execute(sql`SELECT pg_sleep(10), 'outside-scope'`)), "outside-scope", "the transaction holds a backend");
  assert.equal((await request(app.base, "/api/list", "acme")).status, 200);
});

test("clients a pool opened before the package saw it are heard as well", async () => {
  // New clients are heard when the pool announces them; the ones it already had, when a package
  // first sees the pool. This client was opened and idle before drizzleDatabase() was called.
  const pool = new pg.Pool({ connectionString: env.url, max: 1 });
  const early = await pool.connect();
  early.release();
  const db = drizzlePg(pool);
  betterTenant({ database: drizzleDatabase(db), tenantResolver: { header: "x-tenant-id" } });
  await terminatedUnder(() => db.transaction(async (tx) => tx.execute(sql`SELECT pg_sleep(10), 'early-client'`)), "early-client", "the transaction holds the early client's backend");
  await pool.end();
});

test("Prisma (driver adapter over node-postgres): a terminated connection fails its scope only; restarts recover within 2 s", { timeout: 60_000 }, async () => {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: env.url, max: 4 }) });
  const tenant = betterTenant({ database: prismaDatabase(prisma), tenantResolver: { header: "x-tenant-id" } });
  const list = () => tenant.runAs(env.ids.acme, (tx) => tx.$queryRawUnsafe("SELECT tenant_id::text FROM projects"));
  const recovered = async () => {
    const start = Date.now();
    for (;;) {
      const rows = await list().catch(() => null);
      if (rows) return { ms: Date.now() - start, rows };
      if (Date.now() - start > 10_000) return { ms: Infinity, rows: [] };
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    const sleeping = tenant.runAs(env.ids.acme, (tx) => tx.$queryRawUnsafe("SELECT pg_sleep(10), 'prisma-sleep'")).then(
      () => "finished",
      (err) => err,
    );
    await terminateRunning("prisma-sleep", "the Prisma scope holds a backend");
    assert.match(String(await sleeping), /57P01|terminat/, "the scope's error is the connection's");
    const times = {};
    for (const mode of ["fast", "immediate"]) {
      pgCtl("-D", process.env.PGDATA_DIR, "-m", mode, "-w", "-t", "30", "restart");
      const { ms, rows } = await recovered();
      times[mode] = ms;
      assert.ok(rows.length > 0 && rows.every((r) => r.tenant_id === env.ids.acme), "only acme's rows");
    }
    assert.deepEqual(crashes.map(String), [], "no uncaught error reached the process");
    for (const [mode, ms] of Object.entries(times)) assert.ok(ms <= 2000, `prisma: recovered after ${mode} in ${ms} ms`);
    console.log(`# prisma recovery ms: ${JSON.stringify(times)}`);
  } finally {
    await prisma.$disconnect();
  }
});

test("audit without tenant: a terminated connection under an audited transaction fails it, not the process", async () => {
  const c = await connectAs("app", "app", new URL(env.url).pathname.slice(1));
  await c.query(fixture("audit-logs.sql"));
  await c.query("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL); INSERT INTO notes (body) VALUES ('first')");
  await c.end();
  // A pool of its own that no tenant adapter has seen: only the audit package can listen on it.
  const pool = new pg.Pool({ connectionString: env.url, max: 2 });
  const notes = pgTable("notes", { id: serial("id").primaryKey(), body: text("body").notNull() });
  const raw = drizzlePg(pool);
  const audit = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["notes"] });
  const db = withAuditProxy(raw, audit.captureLog);
  try {
    const audited = () =>
      db.transaction(async (tx) => {
        await tx.update(notes).set({ body: "second" }).where(eq(notes.id, 1));
        await tx.execute(sql`SELECT pg_sleep(10), 'audit-only'`);
      });
    await terminatedUnder(audited, "audit-only", "the audited transaction holds a backend");
    const { rows } = await pool.query("SELECT body, (SELECT count(*)::int FROM audit_logs) AS logs FROM notes");
    assert.deepEqual(rows, [{ body: "first", logs: 0 }], "neither the write nor its audit row survived");
    await db.update(notes).set({ body: "third" }).where(eq(notes.id, 1));
    assert.equal((await pool.query("SELECT count(*)::int AS n FROM audit_logs")).rows[0].n, 1, "the next audited write works");
  } finally {
    await pool.end();
  }
});

/**
 * A TCP proxy to the test server. `cut()` drops every open connection, as a restart does; from then
 * on it breaks any connection that asks for postgres.js's array types, as a restart does to a
 * connection still starting up.
 */
async function typeFetchBreaker() {
  const target = new URL(env.url);
  const open = new Set();
  let connections = 0;
  let broken = 0;
  let armed = false;
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(Number(target.port), target.hostname);
    const pair = [client, upstream];
    const close = () => pair.forEach((s) => s.destroy());
    open.add(close);
    for (const s of pair) s.on("error", close).on("close", () => (close(), open.delete(close)));
    client.on("data", (d) => {
      if (armed && d.includes("typarray")) {
        broken++;
        return close();
      }
      upstream.write(d);
    });
    upstream.on("data", (d) => client.write(d));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = new URL(env.url);
  url.host = `127.0.0.1:${server.address().port}`;
  return {
    url: url.href,
    broken: () => broken,
    connections: () => connections,
    cut: () => {
      armed = true;
      [...open].forEach((close) => close());
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

test("postgres.js: connections that reconnect after a restart never re-run the driver's array-type query, whose failure would end the process", async () => {
  const proxy = await typeFetchBreaker();
  const rejections = [];
  const onRejection = (err) => rejections.push(String(err));
  process.on("unhandledRejection", onRejection);
  // Through the tenant package's Drizzle adapter, and through the webhooks/email database adapter.
  const viaTenant = postgres(proxy.url, { max: 1, onnotice: () => {} });
  const viaProducts = postgres(proxy.url, { max: 1, onnotice: () => {} });
  const tenant = betterTenant({ database: drizzleDatabase(drizzlePostgres(viaTenant)), tenantResolver: { header: "x-tenant-id" } });
  const products = databaseAdapter(viaProducts);
  const list = () => tenant.runAs(env.ids.acme, async (db) => names(await db.select().from(projects)));
  const whoami = () => products.transaction(async (ex) => (await ex.query("SELECT current_user AS who", []))[0].who);
  const eventually = async (fn) => {
    for (let i = 0; i < 50; i++) {
      const limit = new Promise((r) => setTimeout(r, 500, undefined));
      const out = await Promise.race([fn().catch(() => undefined), limit]);
      if (out !== undefined) return out;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("never recovered");
  };
  try {
    const rows = await list();
    assert.ok(rows.length > 0);
    assert.equal(await whoami(), "app");
    assert.equal(proxy.connections(), 2, "one connection each, both fetched their types");
    for (let round = 0; round < 3; round++) {
      proxy.cut();
      assert.deepEqual(await eventually(list), rows);
      assert.equal(await eventually(whoami), "app");
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(proxy.connections() >= 8, `the clients reconnected (${proxy.connections()} connections)`);
    assert.equal(proxy.broken(), 0, "no reconnection asked for the array types");
    assert.deepEqual(rejections, [], "no unhandled rejection");
    assert.deepEqual(crashes.map(String), []);
  } finally {
    process.off("unhandledRejection", onRejection);
    await viaTenant.end({ timeout: 1 });
    await viaProducts.end({ timeout: 1 });
    proxy.cut();
    await proxy.close();
  }
});

test("webhooks/email on a node-postgres pool: a connection terminated under their transaction fails it, not the process", async () => {
  // A pool no tenant or audit adapter has seen: only the products' database adapter holds it.
  const pool = new pg.Pool({ connectionString: env.url, max: 1 });
  try {
    await terminatedUnder(() => transactionOn(pool, (ex) => ex.query("SELECT pg_sleep(10), 'products-tx'", [])), "products-tx", "the transaction holds a backend");
    const ok = await transactionOn(pool, (ex) => ex.query("SELECT 1 AS one", []));
    assert.deepEqual(ok, [{ one: 1 }], "the pool serves the next transaction");
  } finally {
    await pool.end();
  }
});
