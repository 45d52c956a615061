// A Hono + Drizzle + node-postgres app as a user writes it against the published packages:
// tenant middleware by header, an audited insert, a cross-tenant read that sees nothing.
// Prints one JSON line with what it observed. Run by pack.test.mjs in an installed project.
import pg from "pg";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import { drizzle } from "drizzle-orm/node-postgres";
import { pgTable, serial, text } from "drizzle-orm/pg-core";
import core from "@usebetter-rs/core";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase, tenantId } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";

const projects = pgTable("projects", { id: serial("id").primaryKey(), ...tenantId, name: text("name").notNull() });
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const db = drizzle(pool);
const audit = betterAudit({ database: drizzleAuditAdapter(db), auditTables: ["projects"] });
const tenant = betterTenant({ database: drizzleDatabase(withAuditProxy(db, audit.captureLog)), tenantResolver: { header: "x-tenant-id" } });

const app = new Hono();
app.use("/api/*", createHonoMiddleware(tenant));
app.get("/api/projects", async (c) => c.json(await tenant.getDatabase().select().from(projects)));
app.post("/api/projects", async (c) => c.json(await tenant.getDatabase().insert(projects).values({ name: (await c.req.json()).name }).returning()));

const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
await new Promise((r) => server.once("listening", r));
const base = `http://127.0.0.1:${server.address().port}`;
const [a, b] = process.argv.slice(2);
const call = async (method, tenantHeader, body) =>
  (await fetch(`${base}/api/projects`, { method, headers: { "x-tenant-id": tenantHeader, "content-type": "application/json" }, body: body && JSON.stringify(body) })).json();
const created = await call("POST", a, { name: "packed" });
const seenByA = await call("GET", a);
const seenByB = await call("GET", b);
// audit_logs is under the tenants' row-level security: read every tenant's entries under the bypass.
const reader = await pool.connect();
await reader.query("BEGIN; SELECT set_config('app.bypass_rls', 'true', true)");
const logs = (await reader.query("SELECT operation, tenant_id::text, after_data->>'name' AS name FROM audit_logs")).rows;
await reader.query("COMMIT");
reader.release();
console.log(JSON.stringify({ backend: core.backend, created: created.map((p) => p.name), seenByA: seenByA.map((p) => p.name), seenByB: seenByB.map((p) => p.name), logs }));
server.close();
await pool.end();
