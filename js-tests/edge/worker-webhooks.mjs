// Outbound webhooks from workerd: a tenant-scoped order (Hono + Drizzle + node-postgres over
// cloudflare:sockets) that `send()`s `order.created` in the request's transaction, and a cron
// trigger whose `scheduled` handler `drain()`s the outbox over `fetch`. Connections cannot
// outlive a request in workerd, so each event opens its own.
import pg from "pg";
import { Hono } from "hono";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { drizzleWebhooksAdapter } from "@usebetterdev/webhooks/drizzle";

function open(env) {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 1 });
  const db = drizzle(pool);
  const webhooks = betterWebhooks({
    database: drizzleWebhooksAdapter(db),
    eventTypes: ["order.created"],
    secretsKey: env.SECRETS_KEY,
    // The receiver of this test is on loopback; production endpoints are public HTTPS.
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    tenancy: "rls",
  });
  return { pool, db, webhooks };
}

export default {
  async fetch(request, env) {
    const { pool, db, webhooks } = open(env);
    try {
      const tenant = betterTenant({ database: drizzleDatabase(db), tenantResolver: { header: "x-tenant-id" } });
      const app = new Hono();
      // The order row and its webhook commit together (or neither does): send() joins the scope.
      app.post("/orders", createHonoMiddleware(tenant), async (c) => {
        const { n, fail } = await c.req.json();
        await tenant.getDatabase().execute(sql`INSERT INTO projects (name) VALUES (${`order:${n}`})`);
        const sent = await webhooks.send({ eventType: "order.created", payload: { n } });
        if (fail) throw new Error("the order failed after send()");
        return c.json(sent);
      });
      app.get("/health", (c) => c.json({ ok: true }));
      app.onError((err, c) => c.json({ error: err.message, code: err.code ?? null }, 500));
      return await app.fetch(request);
    } finally {
      await pool.end();
    }
  },
  async scheduled(controller, env) {
    const { pool, webhooks } = open(env);
    try {
      const { delivered } = await webhooks.drain({ maxMs: 10_000 });
      console.log(`drained ${delivered}`);
    } catch (err) {
      // The trigger sees only "exception"; the reason goes to the log.
      console.error(`drain failed: ${err?.stack ?? err}`);
      throw err;
    } finally {
      await pool.end();
    }
  },
};
