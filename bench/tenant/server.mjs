// One benchmark server: `node server.mjs <ours|ref|unscoped|hardened|lane|lanectx> <port>`.
// Hono + Drizzle + node-postgres serving GET /projects (20 rows) for the tenant named by
// x-tenant-id.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { eq, sql } from "drizzle-orm";
import { pgTable, serial, text, uuid } from "drizzle-orm/pg-core";
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { countWire } from "../wire.mjs";

const [variant, port] = process.argv.slice(2);
const projects = pgTable("projects", { id: serial("id").primaryKey(), tenantId: uuid("tenant_id").notNull(), name: text("name").notNull() });
const pool = new pg.Pool({ connectionString: process.env[`BENCH_URL_${variant.toUpperCase()}`], max: 10 });
const db = drizzle(pool);
const app = new Hono();
// Statements and round trips sent so far, read by the runner around a few probe requests.
const wire = countWire(pg);
app.get("/wire", (c) => c.json({ ...wire }));

if (variant === "unscoped") {
  // The physical limit: one query, tenant filter written by hand, no RLS, no transaction.
  const uuidRe = /^[0-9a-f-]{36}$/i;
  app.get("/projects", async (c) => {
    const t = c.req.header("x-tenant-id") ?? "";
    const rows = uuidRe.test(t)
      ? await db.select().from(projects).where(eq(projects.tenantId, t))
      : await db.execute(sql`SELECT p.* FROM projects p JOIN tenants t ON t.id = p.tenant_id WHERE t.slug = ${t}`).then((r) => r.rows);
    return c.json(rows);
  });
} else if (variant === "lane" || variant === "lanectx") {
  // `lane` by UUID only, `lanectx` by UUID or slug. `lane` (opt-in:
  // BENCH_VARIANTS=lane,lanectx,ours,unscoped) is this package's scope protocol alone (RLS, the
  // lane's read with its set-up in one Sync, both prepared on the connection, Drizzle on the
  // scope's client) with no middleware, AsyncLocalStorage or scope wrapper: what any RLS scope on
  // Drizzle pays. `lanectx` (in the default run: the floor the bench reports) adds what the API
  // itself asks of any implementation: a Hono middleware that runs the rest of the request in an
  // AsyncLocalStorage context, so the handler finds its tenant without being handed it
  // (getDatabase()). On Node 20 that context is propagated by promise hooks on every promise of
  // the request, the package's or not. Against it the package's own per-request cost shows.
  const dist = new URL("../../npm/tenant/dist/", import.meta.url);
  const { openLane } = await import(new URL("drizzle/lane.js", dist).href);
  const { laneStatements } = await import(new URL("setup.js", dist).href);
  const uuidRe = /^[0-9a-f-]{36}$/i;
  const context = variant === "lanectx" ? new AsyncLocalStorage() : null;
  // `lanectx` by slug: every slug's id read once at start in the system scope (the package's own
  // set-up statement for it), as a package that caches its lookups does once each tenant was
  // seen; the request then costs a map read.
  const bySlug = new Map();
  if (context) {
    const system = await pool.connect();
    try {
      await system.query(laneStatements(null, undefined).begin);
      const { rows } = await system.query("select id::text, slug from tenants");
      await system.query("commit");
      for (const row of rows) bySlug.set(row.slug, row.id);
    } finally {
      system.release();
    }
    app.use("/projects", (c, next) => {
      const header = c.req.header("x-tenant-id") ?? "";
      return context.run({ tenantId: uuidRe.test(header) ? header : (bySlug.get(header) ?? "") }, next);
    });
  }
  app.get("/projects", async (c) => {
    const t = context ? context.getStore().tenantId : (c.req.header("x-tenant-id") ?? "");
    if (!uuidRe.test(t)) return c.json({ error: "lane: UUIDs only (lanectx: UUIDs and known slugs)" }, 400);
    const client = await pool.connect();
    client.pipeline = true;
    const lane = openLane(client, laneStatements(t, undefined));
    try {
      const rows = await drizzle(client).select().from(projects);
      await lane.settle();
      return c.json(rows);
    } finally {
      lane.restore();
      client.pipeline = false;
      client.release();
    }
  });
} else {
  // The reference is installed as `ref-tenant` in bench/.ref by bench/tenant.sh. Both are loaded
  // the way this ESM app would: through their packages' "import" entries.
  const refDir = fileURLToPath(new URL("../.ref/node_modules/ref-tenant/", import.meta.url));
  const refExports = JSON.parse(readFileSync(join(refDir, "package.json"), "utf8")).exports;
  const load = (sub) => import(variant === "ref" ? pathToFileURL(join(refDir, refExports[`.${sub}`].import)).href : `@usebetterdev/tenant${sub}`);
  const { betterTenant } = await load("");
  const { drizzleDatabase } = await load("/drizzle");
  const { createHonoMiddleware } = await load("/hono");
  const hardened = variant === "hardened" ? { hardened: { key: process.env.BENCH_HARDENED_KEY } } : {};
  const tenant = betterTenant({ database: drizzleDatabase(db), tenantResolver: { header: "x-tenant-id" }, telemetry: { enabled: false }, ...hardened });
  app.use("/projects", createHonoMiddleware(tenant));
  app.get("/projects", async (c) => c.json(await tenant.getDatabase().select().from(projects)));
}

// A clean exit on SIGTERM lets --cpu-prof write its profile when the runner stops us.
process.on("SIGTERM", () => process.exit(0));
serve({ fetch: app.fetch, port: Number(port), hostname: "127.0.0.1" }, () => console.log("ready"));
