// Transactional email from workerd: a tenant-scoped sign-up that `send()`s a welcome mail in the
// request's transaction (Hono + Drizzle + node-postgres over cloudflare:sockets), a cron
// trigger that `drain()`s the outbox over fetch (notifications to Resend, transactional mail to
// SES, signed with SigV4 in the edge module), the provider events endpoint and the one-click
// unsubscribe endpoint — all on the email package's edge WebAssembly module. SMTP is
// refused here. Connections cannot outlive a request in workerd, so each event opens its own.
import pg from "pg";
import { Hono } from "hono";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import { betterEmail, defineTemplate, html } from "@usebetterdev/email";
import { drizzleEmailAdapter } from "@usebetterdev/email/drizzle";
import { resend } from "@usebetterdev/email/resend";
import { ses } from "@usebetterdev/email/ses";
import { smtp } from "@usebetterdev/email/smtp";
import { emailEventsHandler, unsubscribeHandler } from "@usebetterdev/email/hono";

const welcome = defineTemplate({
  name: "welcome",
  category: "notifications",
  subject: (p) => `Welcome, ${p.name}`,
  html: (p) => html`<p>Hello ${p.name}</p>`,
  editable: true,
});

function open(env) {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 1 });
  const db = drizzle(pool);
  const email = betterEmail({
    database: drizzleEmailAdapter(db),
    transports: {
      resend: resend({ apiKey: "re_test", baseUrl: env.RESEND_URL, timeoutMs: 5000 }),
      ses: ses({ region: "eu-west-1", credentials: async () => JSON.parse(env.AWS_CREDENTIALS), baseUrl: env.SES_URL, timeoutMs: 5000 }),
    },
    route: ({ category }) => (category === "transactional" ? "ses" : "resend"),
    from: "Acme <hello@acme.example>",
    templates: { welcome },
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: env.SECRETS_KEY,
  });
  return { pool, db, email };
}

export default {
  async fetch(request, env) {
    const { pool, db, email } = open(env);
    try {
      const tenant = betterTenant({ database: drizzleDatabase(db), tenantResolver: { header: "x-tenant-id" } });
      const app = new Hono();
      // The user row and the mail commit together (or neither does): send() joins the scope.
      app.post("/signup", createHonoMiddleware(tenant), async (c) => {
        const { name, to, fail } = await c.req.json();
        await tenant.getDatabase().execute(sql`INSERT INTO projects (name) VALUES (${`signup:${to}`})`);
        const sent = await email.send({ to, template: "welcome", props: { name } });
        if (fail) throw new Error("sign-up failed after send()");
        return c.json(sent);
      });
      app.post("/receipt", createHonoMiddleware(tenant), async (c) => {
        const { to } = await c.req.json();
        return c.json(await email.send({ to, subject: "Your receipt", text: "Paid.", category: "transactional" }));
      });
      app.get("/smtp", (c) => {
        try {
          smtp({ host: "127.0.0.1", port: 2525, secure: "none" });
          return c.json({ configured: true });
        } catch (err) {
          return c.json({ code: err.code, name: err.name, message: err.message });
        }
      });
      app.post("/email/events/:provider", emailEventsHandler(email, { resend: { secret: env.RESEND_SECRET }, sendgrid: { publicKey: env.SENDGRID_KEY } }));
      app.all("/email/u/:token", unsubscribeHandler(email));
      app.onError((err, c) => c.json({ error: err.message, code: err.code ?? null }, 500));
      return await app.fetch(request);
    } finally {
      await pool.end();
    }
  },
  async scheduled(controller, env) {
    const { pool, email } = open(env);
    try {
      await email.drain({ maxMs: 10_000 });
    } finally {
      await pool.end();
    }
  },
};
