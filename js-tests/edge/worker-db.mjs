// A tenant-scoped query from workerd: Hono + Drizzle + node-postgres (over cloudflare:sockets)
// against the local PostgreSQL, row-level security doing the isolation. Connections cannot
// outlive a request in workerd, so each request opens its own.
import pg from "pg";
import { Hono } from "hono";
import { drizzle } from "drizzle-orm/node-postgres";
import { pgTable, serial, text } from "drizzle-orm/pg-core";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase, tenantId } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";

const projects = pgTable("projects", { id: serial("id").primaryKey(), ...tenantId, name: text("name").notNull() });

export default {
  async fetch(request, env) {
    const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 1 });
    try {
      const tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
      const app = new Hono();
      app.use("*", createHonoMiddleware(tenant));
      app.get("/projects", async (c) => c.json((await tenant.getDatabase().select({ name: projects.name }).from(projects)).map((p) => p.name).sort()));
      return await app.fetch(request);
    } finally {
      await pool.end();
    }
  },
};
