// The example SaaS app: Hono + Drizzle + node-postgres, tenants from the subdomain or the
// x-tenant-id header, row-level security in PostgreSQL, an audit trail written in the same
// transaction as each change, sealed into a hash chain per tenant, and outbound webhooks
// and the welcome mail of a sign-up enqueued in that transaction too (a rolled-back write sends
// nothing).
import pg from "pg";
import { Hono } from "hono";
import { drizzle } from "drizzle-orm/node-postgres";
import { and, eq } from "drizzle-orm";
import { boolean, integer, pgTable, serial, text } from "drizzle-orm/pg-core";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase, tenantId } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware as tenantMiddleware } from "@usebetterdev/tenant/hono";
import { betterAudit, fromHeader } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { createHonoMiddleware as auditMiddleware } from "@usebetterdev/audit/hono";
import { betterWebhooks, defineEventTypes } from "@usebetterdev/webhooks";
import { drizzleWebhooksAdapter } from "@usebetterdev/webhooks/drizzle";
import { betterEmail, defineTemplate, html } from "@usebetterdev/email";
import { drizzleEmailAdapter } from "@usebetterdev/email/drizzle";
import { smtp } from "@usebetterdev/email/smtp";
import { sql } from "drizzle-orm";

const welcome = defineTemplate({
  name: "welcome",
  category: "transactional",
  subject: (p) => `Welcome to usebetter, ${p.name}`,
  html: (p) => html`<p>Hello ${p.name},</p><p>Your workspace <b>${p.slug}</b> is ready: <a href="${p.url}">open it</a>.</p>`,
  text: (p) => `Hello ${p.name},\n\nYour workspace ${p.slug} is ready: ${p.url}\n`,
});

export const projects = pgTable("projects", { id: serial("id").primaryKey(), ...tenantId, name: text("name").notNull() });
export const tasks = pgTable("tasks", {
  id: serial("id").primaryKey(),
  ...tenantId,
  projectId: integer("project_id").notNull().references(() => projects.id),
  title: text("title").notNull(),
  done: boolean("done").notNull().default(false),
});

/** The application tables (normally created by drizzle-kit). */
export const SCHEMA_SQL = `
CREATE TABLE tenants (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE projects (id serial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants(id), name text NOT NULL);
CREATE TABLE tasks (id serial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants(id), project_id int NOT NULL REFERENCES projects(id),
                    title text NOT NULL, done boolean NOT NULL DEFAULT false);
`;

/**
 * `webhooks`: the rest of the webhooks configuration (`secretsKey`, `network`, …); `smtp`: the
 * SMTP server welcome mails go to (`{ host, port, secure }`); `emailKey`: 32 bytes, base64 (seals
 * unsubscribe tokens).
 */
export function createApp(databaseUrl, { sealKey, webhooks: webhooksConfig = {}, smtp: smtpServer, emailKey }) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const db = drizzle(pool);
  const audit = betterAudit({ database: drizzleAuditAdapter(db, { seal: { key: sealKey } }), auditTables: ["projects", "tasks"] });
  const webhooks = betterWebhooks({
    database: drizzleWebhooksAdapter(db),
    eventTypes: defineEventTypes({ "project.created": {}, "task.completed": {} }),
    ...webhooksConfig,
  });
  const email = betterEmail({
    database: drizzleEmailAdapter(db),
    transport: smtp(smtpServer),
    from: "usebetter <hello@usebetter.example>",
    templates: { welcome },
    // Notifications and marketing mail carry RFC 8058 one-click unsubscribe links (sealed tokens).
    unsubscribe: { baseUrl: "https://app.demo.test/email/u" },
    secretsKey: emailKey,
  });
  // Production wiring: bounded waits, so a held lock or a burst fails fast instead of queueing
  // every request behind it (see the README's "Faults and bounded waits").
  const tenant = betterTenant({
    database: drizzleDatabase(withAuditProxy(db, audit.captureLog)),
    tenantResolver: { subdomain: true, header: "x-tenant-id" },
    timeouts: { acquireMs: 5_000, statementMs: 15_000, lockMs: 2_000 },
  });
  const scoped = () => tenant.getDatabase();

  const app = new Hono();
  // Sign-up: the tenant and its welcome mail commit together (a failed sign-up mails nobody).
  // No tenant exists yet, so it runs in system context and names the new tenant explicitly.
  app.post("/signup", async (c) => {
    const { name, slug, email: to } = await c.req.json();
    const row = await tenant.runAsSystem(async (tx) => {
      const [t] = (await tx.execute(sql`INSERT INTO tenants (name, slug) VALUES (${name}, ${slug}) RETURNING id, name, slug`)).rows;
      const mail = await email.send({ template: "welcome", to, props: { name, slug, url: `https://${slug}.demo.test/` }, idempotencyKey: `welcome/${t.id}` }, { tx, tenantId: t.id });
      return { ...t, welcomeMail: mail.id };
    });
    return c.json(row, 201);
  });
  app.use("/api/*", auditMiddleware({ extractor: { actor: fromHeader("x-user") } }));
  app.use("/api/*", tenantMiddleware(tenant));
  app.get("/api/projects", async (c) => c.json(await scoped().select().from(projects).orderBy(projects.id)));
  app.post("/api/projects", async (c) => {
    const [row] = await scoped().insert(projects).values({ name: (await c.req.json()).name }).returning();
    // In the request's tenant scope: the message commits with the project, or not at all.
    await webhooks.send({ eventType: "project.created", payload: { id: row.id, name: row.name }, idempotencyKey: `project.created/${row.id}` });
    return c.json(row, 201);
  });
  app.get("/api/projects/:id", async (c) => {
    const id = Number(c.req.param("id"));
    const [row] = await scoped().select().from(projects).where(eq(projects.id, id));
    if (!row) return c.json({ error: "not found" }, 404);
    return c.json({ ...row, tasks: await scoped().select().from(tasks).where(eq(tasks.projectId, id)).orderBy(tasks.id) });
  });
  app.post("/api/projects/:id/tasks", async (c) => {
    const [row] = await scoped().insert(tasks).values({ projectId: Number(c.req.param("id")), title: (await c.req.json()).title }).returning();
    return c.json(row, 201);
  });
  app.patch("/api/tasks/:id", async (c) => {
    const body = await c.req.json();
    const set = { ...(body.title !== undefined ? { title: body.title } : {}), ...(body.done !== undefined ? { done: body.done } : {}) };
    const [row] = await scoped().update(tasks).set(set).where(and(eq(tasks.id, Number(c.req.param("id"))))).returning();
    if (!row) return c.json({ error: "not found" }, 404);
    if (body.done === true) await webhooks.send({ eventType: "task.completed", payload: { id: row.id, projectId: row.projectId, title: row.title } });
    return c.json(row);
  });
  app.get("/api/projects/:id/audit", async (c) => {
    const id = c.req.param("id");
    // The trail of a project this tenant can see (row-level security decides).
    const [visible] = await scoped().select({ id: projects.id }).from(projects).where(eq(projects.id, Number(id)));
    if (!visible) return c.json({ error: "not found" }, 404);
    const project = await audit.query().resource("projects", id).order("asc").list();
    const taskIds = (await scoped().select({ id: tasks.id }).from(tasks).where(eq(tasks.projectId, Number(id)))).map((t) => String(t.id));
    const taskEntries = [];
    for (const t of taskIds) taskEntries.push(...(await audit.query().resource("tasks", t).order("asc").list()).entries);
    const entries = [...project.entries, ...taskEntries].sort((a, b) => a.timestamp - b.timestamp);
    return c.json(entries.map((e) => ({ at: e.timestamp, table: e.tableName, operation: e.operation, recordId: e.recordId, actor: e.actorId ?? null, changed: e.diff?.changes ?? [] })));
  });
  return { app, tenant, audit, webhooks, email, close: () => pool.end() };
}
