// The other adapters: Drizzle over postgres.js, Prisma's client interface, Fastify, Express 4.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import postgres from "postgres";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import Fastify from "fastify";
import express from "express";
import express4 from "express4";
import { betterTenant, getContext, TenantConfigError } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { prismaDatabase } from "@usebetterdev/tenant/prisma";
import { fastifyTenant } from "@usebetterdev/tenant/fastify";
import { createExpressMiddleware } from "@usebetterdev/tenant/express";
import { names, projects, tenantDatabase } from "./helpers/app.mjs";

let env;
before(async () => {
  env = await tenantDatabase("tadapt", { poolSize: 2 });
});
after(() => env?.close());

test("Drizzle over postgres.js: isolation, runAs on one connection, rollback", async () => {
  const client = postgres(env.url, { max: 1, onnotice: () => {} });
  try {
    const tenant = betterTenant({ database: drizzleDatabase(drizzlePostgres(client)), tenantResolver: { header: "x-tenant-id" } });
    assert.deepEqual(await tenant.runAs("acme", async (db) => names(await db.select().from(projects))), ["acme-1", "acme-2"]);
    assert.deepEqual(await tenant.runAs(env.ids.globex, async (db) => names(await db.select().from(projects))), ["globex-1"]);
    await assert.rejects(
      tenant.runAs("acme", async (db) => {
        await db.insert(projects).values({ name: "pgjs-doomed" });
        throw new Error("boom");
      }),
      /boom/,
    );
    const rows = await tenant.runAs("acme", async (db) => names(await db.select().from(projects)));
    assert.ok(!rows.includes("pgjs-doomed"));
  } finally {
    await client.end();
  }
});

/** Prisma's client interface ($transaction, $queryRaw*, $executeRaw*) over a pg pool. */
function prismaLike(pool) {
  const text = (strings) => strings.reduce((acc, s, i) => `${acc}$${i}${s}`);
  const api = (run) => ({
    $queryRawUnsafe: async (q, ...v) => (await run(q, v)).rows,
    $executeRawUnsafe: async (q, ...v) => (await run(q, v)).rowCount,
    $queryRaw: async (s, ...v) => (await run(text(s), v)).rows,
    $executeRaw: async (s, ...v) => (await run(text(s), v)).rowCount,
  });
  return Object.assign(api((q, v) => pool.query(q, v)), {
    async $transaction(fn) {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        const out = await fn(api((q, v) => c.query(q, v)));
        await c.query("COMMIT");
        return out;
      } catch (err) {
        await c.query("ROLLBACK");
        throw err;
      } finally {
        c.release();
      }
    },
  });
}

test("Prisma adapter: isolation, loadTenant, api with exactly four keys per tenant", async () => {
  const prisma = prismaLike(env.pool);
  const tenant = betterTenant({ database: prismaDatabase(prisma), tenantResolver: { header: "x-tenant-id" } });
  const seen = await tenant.runAs("globex", async (tx) => {
    assert.equal(getContext().tenant.slug, "globex");
    return names(await tx.$queryRawUnsafe("SELECT name FROM projects"));
  });
  assert.deepEqual(seen, ["globex-1"]);
  const created = await tenant.api.createTenant({ name: "Umbrella", slug: "umbrella" });
  assert.deepEqual(Object.keys(created).sort(), ["createdAt", "id", "name", "slug"]);
  assert.equal((await tenant.api.updateTenant(created.id, { slug: "umbrella-corp" })).slug, "umbrella-corp");
  assert.equal((await tenant.api.listTenants()).length, 3);
  await tenant.api.deleteTenant(created.id);
  assert.equal(await tenant.api.countTenants(), 2);
  assert.throws(() => prismaDatabase(prisma, { tableName: "bad name" }), (err) => {
    assert.ok(err instanceof TenantConfigError);
    assert.equal(err.message, 'better-tenant: invalid table name "bad name" — must be [a-zA-Z_][a-zA-Z0-9_]*');
    return true;
  });
});

test("Fastify: isolation over HTTP, 404 for a missing tenant, a throw rolls back", async () => {
  const tenant = betterTenant({ database: drizzleDatabase(env.db), tenantResolver: { header: "x-tenant-id" } });
  const app = Fastify();
  await app.register(fastifyTenant(tenant));
  app.get("/projects", async () => tenant.getDatabase().select().from(projects));
  app.post("/projects/fail", async () => {
    await tenant.getDatabase().insert(projects).values({ name: "fastify-doomed" });
    throw new Error("handler failed");
  });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    const acme = await fetch(`${base}/projects`, { headers: { "x-tenant-id": "acme" } });
    assert.deepEqual(names(await acme.json()), ["acme-1", "acme-2"]);
    const globex = await fetch(`${base}/projects`, { headers: { "x-tenant-id": env.ids.globex.toUpperCase() } });
    assert.deepEqual(names(await globex.json()), ["globex-1"]);
    const missing = await fetch(`${base}/projects`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "Tenant could not be resolved. Checked: header 'x-tenant-id'" });
    const fail = await fetch(`${base}/projects/fail`, { method: "POST", headers: { "x-tenant-id": "acme" } });
    assert.equal(fail.status, 500);
    const rows = await tenant.runAs("acme", async (db) => names(await db.select().from(projects)));
    assert.ok(!rows.includes("fastify-doomed"));
  } finally {
    await app.close();
  }
});

test("Express 4: isolation and rollback with the same middleware", async () => {
  const tenant = betterTenant({ database: drizzleDatabase(env.db), tenantResolver: { header: "x-tenant-id" } });
  const app = express4();
  app.use("/api", createExpressMiddleware(tenant));
  app.get("/api/projects", (_req, res, next) => {
    tenant.getDatabase().select().from(projects).then((rows) => res.json(rows), next);
  });
  app.post("/api/fail", (_req, _res, next) => {
    tenant.getDatabase().insert(projects).values({ name: "express4-doomed" }).then(() => next(new Error("failed")), next);
  });
  app.use((err, _req, res, _next) => res.status(500).json({ error: err.message }));
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const r = await fetch(`${base}/api/projects`, { headers: { "x-tenant-id": "globex" } });
    assert.deepEqual(names(await r.json()), ["globex-1"]);
    assert.equal((await fetch(`${base}/api/fail`, { method: "POST", headers: { "x-tenant-id": "acme" } })).status, 500);
    const rows = await tenant.runAs("acme", async (db) => names(await db.select().from(projects)));
    assert.ok(!rows.includes("express4-doomed"));
  } finally {
    server.close();
  }
});

test("Express 5 and 4: the path strategy reads the mount-relative req.path, as the reference does", async () => {
  const tenant = betterTenant({ database: drizzleDatabase(env.db), tenantResolver: { path: "/t/:tenantId" } });
  for (const [label, framework] of [["express 5", express], ["express 4", express4]]) {
    const app = framework();
    app.use("/m", createExpressMiddleware(tenant));
    app.get("/m/t/:slug/whoami", (req, res) => res.json({ slug: getContext()?.tenant?.slug ?? null, path: req.path }));
    const server = http.createServer(app);
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${server.address().port}`;
    try {
      const globex = await fetch(`${base}/m/t/globex/whoami?x=1`);
      assert.equal(globex.status, 200, label);
      assert.deepEqual(await globex.json(), { slug: "globex", path: "/m/t/globex/whoami" }, label);
      const acme = await fetch(`${base}/m/t/${env.ids.acme}/whoami`);
      assert.equal((await acme.json()).slug, "acme", label);
      // Literal segments still have to match: /m/u/globex names no tenant.
      const other = await fetch(`${base}/m/u/globex/whoami`);
      assert.deepEqual([other.status, await other.json()], [404, { error: "Tenant could not be resolved. Checked: path '/t/:tenantId'" }], label);
    } finally {
      server.close();
    }
  }
});

test("every adapter: from A's scope, B's rows cannot be read, updated, deleted or inserted, typed or raw", async () => {
  const { eq, sql } = await import("drizzle-orm");
  const B = env.ids.globex;
  const pgjs = postgres(env.url, { max: 2, onnotice: () => {} });
  try {
    const providers = {
      "drizzle/node-postgres": drizzleDatabase(env.db),
      "drizzle/postgres.js": drizzleDatabase(drizzlePostgres(pgjs)),
    };
    for (const [label, database] of Object.entries(providers)) {
      const tenant = betterTenant({ database, tenantResolver: { header: "x-tenant-id" } });
      const out = await tenant.runAs("acme", async (db) => {
        const typedRead = await db.select().from(projects).where(eq(projects.tenantId, B));
        const rawRead = await db.execute(sql`SELECT * FROM projects WHERE tenant_id = ${B}`);
        const typedUpdate = await db.update(projects).set({ name: "hijacked" }).where(eq(projects.tenantId, B)).returning();
        const typedDelete = await db.delete(projects).where(eq(projects.tenantId, B)).returning();
        const rawUpdate = await db.execute(sql`UPDATE projects SET name = 'hijacked' WHERE tenant_id = ${B} RETURNING id`);
        const rawDelete = await db.execute(sql`DELETE FROM projects WHERE tenant_id = ${B} RETURNING id`);
        // In a savepoint, so the refused insert does not abort the outer transaction.
        let insert = "accepted";
        await db
          .transaction((sp) => sp.insert(projects).values({ tenantId: B, name: "forged" }))
          .catch((err) => (insert = err.cause?.code ?? err.code));
        const rows = (r) => (Array.isArray(r) ? r : r.rows ?? [...r]).length;
        return [typedRead.length, rows(rawRead), typedUpdate.length, typedDelete.length, rows(rawUpdate), rows(rawDelete), insert];
      }).catch((err) => err);
      assert.ok(Array.isArray(out), `${label}: ${out?.message}`);
      assert.deepEqual(out.slice(0, 6), [0, 0, 0, 0, 0, 0], label);
      assert.equal(out[6], "42501", `${label}: forged insert refused by RLS`);
    }
    const prisma = prismaDatabase(prismaLike(env.pool));
    const tenant = betterTenant({ database: prisma, tenantResolver: { header: "x-tenant-id" } });
    const counts = await tenant.runAs("acme", async (tx) => [
      (await tx.$queryRawUnsafe("SELECT * FROM projects WHERE tenant_id = $1::uuid", B)).length,
      await tx.$executeRawUnsafe("UPDATE projects SET name = 'hijacked' WHERE tenant_id = $1::uuid", B),
      await tx.$executeRawUnsafe("DELETE FROM projects WHERE tenant_id = $1::uuid", B),
    ]);
    assert.deepEqual(counts, [0, 0, 0], "prisma");
    await assert.rejects(
      tenant.runAs("acme", (tx) => tx.$executeRawUnsafe("INSERT INTO projects (tenant_id, name) VALUES ($1::uuid, 'forged')", B)),
      { code: "42501" },
    );
    const still = await tenant.runAs("globex", async (tx) => (await tx.$queryRawUnsafe("SELECT name FROM projects")).map((r) => r.name));
    assert.deepEqual(still, ["globex-1"], "B's rows are untouched");
  } finally {
    await pgjs.end();
  }
});

test("every adapter: a session-level bypass or tenant left on a connection does not widen a scope", async () => {
  const poison = "SELECT set_config('app.bypass_rls', 'true', false), set_config('app.current_tenant', '" + env.ids.globex + "', false)";
  const client = postgres(env.url, { max: 1, onnotice: () => {} });
  const pool = new (await import("pg")).default.Pool({ connectionString: env.url, max: 1 });
  try {
    await client.unsafe(poison);
    const viaPostgresJs = betterTenant({ database: drizzleDatabase(drizzlePostgres(client)), tenantResolver: { header: "x-tenant-id" } });
    assert.deepEqual(await viaPostgresJs.runAs("acme", async (db) => names(await db.select().from(projects))), ["acme-1", "acme-2"]);
    await pool.query(poison);
    const viaPrisma = betterTenant({ database: prismaDatabase(prismaLike(pool)), tenantResolver: { header: "x-tenant-id" } });
    assert.deepEqual(await viaPrisma.runAs("acme", async (tx) => names(await tx.$queryRawUnsafe("SELECT name FROM projects"))), ["acme-1", "acme-2"]);
  } finally {
    await client.end();
    await pool.end();
  }
});
