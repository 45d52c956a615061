// A small app as an existing user of @usebetterdev/tenant 0.5.4 and @usebetterdev/audit 0.8.1
// wrote it: Hono, Drizzle over node-postgres, tenant middleware, audited writes. The upgrade
// test runs this same code with the reference packages and then with ours (`pkgs`).
import { Hono } from "hono";
import { eq } from "drizzle-orm";
import { pgTable, serial, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const projects = pgTable("projects", {
  id: serial("id").primaryKey(),
  tenantId: uuid("tenant_id").notNull(),
  name: text("name").notNull(),
  dueAt: timestamp("due_at", { withTimezone: true }),
});

export function buildApp(pkgs, db, auditOptions = {}) {
  const { betterTenant, drizzleDatabase, createHonoMiddleware, betterAudit, drizzleAuditAdapter, withAuditProxy } = pkgs;
  const audit = betterAudit({ database: drizzleAuditAdapter(db, auditOptions), auditTables: ["projects"] });
  const tenant = betterTenant({ database: drizzleDatabase(withAuditProxy(db, audit.captureLog)), tenantResolver: { header: "x-tenant-id" } });
  const app = new Hono();
  app.use("/api/*", createHonoMiddleware(tenant));
  const database = () => tenant.getDatabase();
  app.get("/api/projects", async (c) => c.json(await database().select().from(projects).orderBy(projects.id)));
  app.post("/api/projects", async (c) => {
    const body = await c.req.json();
    const [row] = await database().insert(projects).values({ name: body.name, dueAt: new Date(body.dueAt) }).returning();
    return c.json(row, 201);
  });
  app.patch("/api/projects/:id", async (c) => {
    const body = await c.req.json();
    const rows = await database().update(projects).set({ name: body.name }).where(eq(projects.id, Number(c.req.param("id")))).returning();
    return rows.length ? c.json(rows[0]) : c.json({ error: "not found" }, 404);
  });
  app.delete("/api/projects/:id", async (c) => {
    const rows = await database().delete(projects).where(eq(projects.id, Number(c.req.param("id")))).returning();
    return rows.length ? c.json(rows[0]) : c.json({ error: "not found" }, 404);
  });
  app.onError((err, c) => c.json({ error: String(err?.message ?? err) }, 500));
  return { app, tenant, audit };
}
