// The soak's server: the demo app (examples/saas) on a fresh database, in a process of its own
// so the runner can read its memory. Prints `ready <port> <tenant id> <tenant id>`.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { serve } from "@hono/node-server";
import { runCli as tenantCli } from "@usebetterdev/tenant-cli";
import { runCli as auditCli } from "@usebetterdev/audit-cli";
import { createApp, SCHEMA_SQL } from "../../examples/saas/app.mjs";

const [adminSocket, adminPort, databaseUrl, sealKey] = process.argv.slice(2);
const database = new URL(databaseUrl).pathname.slice(1);
const a = new pg.Client({ host: adminSocket, port: Number(adminPort), user: "postgres", database: "postgres" });
await a.connect();
await a.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await a.query(`CREATE DATABASE ${database} OWNER app`);
await a.end();
const c = new pg.Client({ connectionString: databaseUrl });
await c.connect();
await c.query(SCHEMA_SQL);
const config = { tenant: { tenantTables: ["projects", "tasks"] }, audit: { auditTables: ["projects", "tasks"] } };
const env = { DATABASE_URL: databaseUrl, AUDIT_SEAL_KEY: sealKey };
await c.query((await tenantCli(["migrate", "--dry-run"], { config, env })).stdout);
const migrated = await auditCli(["migrate"], { config, env });
if (migrated.code !== 0) throw new Error(migrated.stderr);
// The app enqueues a webhook with each new project (no endpoints here, so none is delivered).
// The app's email product needs a key for its unsubscribe tokens (no mail is sent here).
const { app, tenant, webhooks, email } = createApp(databaseUrl, { sealKey, emailKey: randomBytes(32).toString("base64") });
await c.query(webhooks.migrationSql());
await c.query(email.migrationSql());
await c.end();
const acme = await tenant.api.createTenant({ name: "Acme", slug: "acme" });
const globex = await tenant.api.createTenant({ name: "Globex", slug: "globex" });
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => {
  console.log(`ready ${server.address().port} ${acme.id} ${globex.id}`);
});
process.on("SIGTERM", () => process.exit(0));
