// The demo: a throwaway database, the CLIs' migrations, the app on a local port, a webhook
// receiver and an SMTP sink on others, and a scripted scenario with a short report. `--serve` keeps the app
// running for curl instead.
import { createServer, request } from "node:http";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { serve } from "@hono/node-server";
import { runCli as tenantCli } from "@usebetterdev/tenant-cli";
import { runCli as auditCli } from "@usebetterdev/audit-cli";
import { verifyWebhook } from "@usebetterdev/webhooks/receiver";
import { SMTPServer } from "smtp-server";
import { createApp, SCHEMA_SQL } from "./app.mjs";

const SERVE = process.argv.includes("--serve");
const SEAL_KEY = "demo-seal-key (keep real keys out of the database)";
// Seals endpoint secrets at rest: 32 bytes, base64 (a fresh one per run unless given).
const WEBHOOKS_KEY = process.env.BETTER_WEBHOOKS_KEY ?? randomBytes(32).toString("base64");
const admin = new URL(process.env.ADMIN_DATABASE_URL);
const adminClient = () => new pg.Client({ host: admin.searchParams.get("host"), port: Number(admin.searchParams.get("port")), user: "postgres", database: "postgres" });
const url = new URL(process.env.DATABASE_URL);
url.pathname = "/saas_demo";
const databaseUrl = url.toString();

const step = (label, text) => console.log(`  ${label.padEnd(11)} ${text}`);
async function cli(run, args, config) {
  const r = await run(args, { config, env: { DATABASE_URL: databaseUrl, AUDIT_SEAL_KEY: SEAL_KEY } });
  if (r.code !== 0 && !args.includes("verify")) throw new Error(`${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r;
}

// 1. A fresh database, the app's tables, the migrations the two CLIs generate, and the webhook
// tables.
const a = adminClient();
await a.connect();
await a.query("DROP DATABASE IF EXISTS saas_demo WITH (FORCE)");
await a.query("CREATE DATABASE saas_demo OWNER app");
await a.end();
const sql = new pg.Client({ connectionString: databaseUrl });
await sql.connect();
await sql.query(SCHEMA_SQL);
const config = { tenant: { tenantTables: ["projects", "tasks"] }, audit: { auditTables: ["projects", "tasks"] } };
const rls = (await cli(tenantCli, ["migrate", "--dry-run"], config)).stdout;
await sql.query(rls);
await cli(auditCli, ["migrate"], config);
// The mail sink: a local SMTP server that keeps what it receives (envelope and bytes).
const mails = [];
const sink = new SMTPServer({
  logger: false,
  authOptional: true,
  disabledCommands: ["AUTH", "STARTTLS"],
  onData(stream, session, cb) {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", () => {
      mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString() });
      if (SERVE) console.log(`mail sink: to ${mails.at(-1).to.join(", ")}\n${mails.at(-1).raw}`);
      cb(null, "queued");
    });
  },
});
await new Promise((r) => sink.listen(0, "127.0.0.1", r));
// The receiver is on loopback, which the SSRF deny list refuses unless allowed.
const { app, tenant, webhooks, email, close } = createApp(databaseUrl, {
  sealKey: SEAL_KEY,
  webhooks: { secretsKey: WEBHOOKS_KEY, network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] } },
  smtp: { host: "127.0.0.1", port: sink.server.address().port, secure: "none" },
  emailKey: process.env.BETTER_EMAIL_KEY ?? randomBytes(32).toString("base64"),
});
await sql.query(webhooks.migrationSql());
await sql.query(email.migrationSql());
console.log("usebetter-rs demo: a SaaS app (Hono + Drizzle + node-postgres) on a throwaway PostgreSQL 15");
step("migrations", `better-tenant migrate (RLS on projects, tasks: ${rls.split("\n").length} lines), better-audit migrate (audit_logs), webhooks (webhook_*), email (email_*)`);

// 2. The app, two tenants signed up over HTTP (each with its welcome mail), and acme's webhook
// endpoint: a receiver that verifies signatures.
const server = serve({ fetch: app.fetch, port: SERVE ? Number(process.env.PORT ?? 3000) : 0, hostname: "127.0.0.1" });
await new Promise((r) => server.once("listening", r));
const port = server.address().port;
const mailer = email.createWorker({ pollIntervalMs: 100 });
await mailer.start();
const signUp = (body) =>
  new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/signup", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => (res.statusCode === 201 ? resolve(JSON.parse(text)) : reject(new Error(`sign-up: ${res.statusCode} ${text}`))));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
const acme = await signUp({ name: "Acme", slug: "acme", email: "owner@acme.example" });
const globex = await signUp({ name: "Globex", slug: "globex", email: "founder@globex.example" });
step("tenants", `acme (by subdomain acme.demo.test), globex (by header x-tenant-id), signed up over POST /signup; app on http://127.0.0.1:${port}`);
for (const until = Date.now() + 10_000; mails.length < 2 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
const welcomeMail = mails.find((m) => m.to.includes("owner@acme.example"));
const header = (raw, name) => new RegExp(`^${name}: (.*)$`, "mi").exec(raw)?.[1] ?? "(missing)";
step("email", `${mails.length} welcome mails reached the SMTP sink (sent by the in-process worker); acme's:`);
for (const name of ["From", "To", "Subject", "Message-ID"]) console.log(`${" ".repeat(15)}${name}: ${welcomeMail ? header(welcomeMail.raw, name) : "(none)"}`);

const received = [];
let endpointSecret;
const receiver = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      const event = await verifyWebhook({ body: Buffer.concat(chunks), headers: req.headers }, { secret: endpointSecret });
      received.push({ id: event.id, type: event.json.type, data: event.json.data });
      if (SERVE) console.log(`receiver: verified ${event.id} ${event.json.type} ${JSON.stringify(event.json.data)}`);
      res.writeHead(204).end();
    } catch (err) {
      received.push({ error: err.code });
      res.writeHead(400).end(err.code);
    }
  });
});
await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
const hooksUrl = `http://127.0.0.1:${receiver.address().port}/hooks`;
const created = await webhooks.endpoints.create({ url: hooksUrl, eventTypes: ["project.created", "task.*"] }, { tenantId: acme.id });
endpointSecret = created.secret;
const worker = webhooks.createWorker({ pollIntervalMs: 200 });
await worker.start();
step("webhooks", `acme's endpoint ${created.endpoint.id} -> ${hooksUrl} (project.created, task.*); worker running in-process`);

if (SERVE) {
  console.log(`
Try it (Ctrl-C stops the app; scripts/demo.sh --serve stops the database too). acme's project.created
and task.* webhooks are printed below as the receiver verifies them:
  curl -s -H 'x-tenant-id: acme' -H 'x-user: alice' -H 'content-type: application/json' -d '{"name":"Rocket"}' http://127.0.0.1:${port}/api/projects
  curl -s -H 'x-tenant-id: acme' http://127.0.0.1:${port}/api/projects
  curl -s -H 'x-tenant-id: globex' http://127.0.0.1:${port}/api/projects          # acme's projects are not there
  curl -s -H 'x-tenant-id: acme' http://127.0.0.1:${port}/api/projects/1/audit
  DATABASE_URL='${databaseUrl}' AUDIT_SEAL_KEY='${SEAL_KEY}' npx better-audit verify`);
  await new Promise((resolve) => process.once("SIGINT", resolve));
  server.close();
  await worker.stop();
  await mailer.stop();
  receiver.close();
  sink.close();
  await close();
  await sql.end();
  process.exit(0);
}

// 3. The scenario, over HTTP: acme by subdomain, globex by header.
// acme is named by its subdomain (acme.demo.test), globex by the x-tenant-id header.
function call(method, path, { as, user, body } = {}) {
  const headers = { "content-type": "application/json", ...(user ? { "x-user": user } : {}) };
  if (as === "acme") headers.host = `acme.demo.test:${port}`;
  else if (as) headers["x-tenant-id"] = as;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
const rocket = (await call("POST", "/api/projects", { as: "acme", user: "alice", body: { name: "Rocket" } })).body;
const design = (await call("POST", `/api/projects/${rocket.id}/tasks`, { as: "acme", user: "alice", body: { title: "Design" } })).body;
await call("POST", `/api/projects/${rocket.id}/tasks`, { as: "acme", user: "bob", body: { title: "Launch" } });
await call("PATCH", `/api/tasks/${design.id}`, { as: "acme", user: "alice", body: { done: true } });
const hammock = (await call("POST", "/api/projects", { as: "globex", user: "carol", body: { name: "Hammock" } })).body;
const nap = (await call("POST", `/api/projects/${hammock.id}/tasks`, { as: "globex", user: "carol", body: { title: "Nap" } })).body;
const acmeView = (await call("GET", `/api/projects/${rocket.id}`, { as: "acme" })).body;
step("acme", `alice and bob created project "${rocket.name}" with tasks ${acmeView.tasks.map((t) => `"${t.title}"${t.done ? " (done)" : ""}`).join(", ")}`);
step("globex", `carol created project "${hammock.name}" with task "${nap.title}"`);

// The webhooks acme's writes enqueued arrive signed; globex has no endpoint, so none of its do.
for (const until = Date.now() + 10_000; received.length < 2 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
const hooks = received.map((h) => (h.error ? `refused: ${h.error}` : `${h.type} ${JSON.stringify(h.data)}`)).sort();
step("webhooks", `the receiver checked each signature with the endpoint's secret; ${hooks.length} arrived:`);
for (const h of hooks) console.log(`${" ".repeat(15)}${h}`);

const peek = await call("GET", `/api/projects/${hammock.id}`, { as: "acme", user: "mallory" });
const poke = await call("PATCH", `/api/tasks/${nap.id}`, { as: "acme", user: "mallory", body: { title: "hacked" } });
const napNow = (await call("GET", `/api/projects/${hammock.id}`, { as: "globex" })).body.tasks[0].title;
const list = (await call("GET", "/api/projects", { as: "acme" })).body.map((p) => p.name);
const anon = await call("GET", "/api/projects");
step("isolation", `acme GET globex's project            -> ${peek.status} (row-level security hides it)`);
step("", `acme PATCH globex's task             -> ${poke.status}; globex still sees "${napNow}"`);
step("", `acme lists projects                  -> ${JSON.stringify(list)}`);
step("", `no tenant named                      -> ${anon.status} ${JSON.stringify(anon.body)}`);

// 4. The audit trail of one project, then the hash chains.
const trail = (await call("GET", `/api/projects/${rocket.id}/audit`, { as: "acme" })).body;
step("audit", `project "${rocket.name}": ${trail.length} entries, written in the same transaction as each change`);
for (const e of trail) {
  const changed = e.changed.map((c) => `${c.field}: ${JSON.stringify(c.old)} -> ${JSON.stringify(c.new)}`).join(", ");
  console.log(`${" ".repeat(15)}${e.operation.padEnd(6)} ${e.table}#${e.recordId}  by ${e.actor ?? "-"}${changed ? `  (${changed})` : ""}`);
}
const verified = await cli(auditCli, ["verify"], config);
step("verify", verified.stdout.trim().split("\n").join(`\n${" ".repeat(14)}`));
// The tamperer has the database (audit_logs is under row-level security, so under the bypass).
await sql.query(`BEGIN; SELECT set_config('app.bypass_rls', 'true', true);
  UPDATE audit_logs SET actor_id = 'mallory' WHERE table_name = 'tasks' AND operation = 'UPDATE'; COMMIT`);
const tampered = await cli(auditCli, ["verify", "--json"], config);
const brk = JSON.parse(tampered.stdout).chains.find((c) => c.break)?.break;
step("tamper", `set actor_id = 'mallory' on one entry in SQL -> verify exits ${tampered.code}: ${brk ? `${brk.kind} at seq ${brk.seq}` : "no break found"}`);

server.close();
await worker.stop();
await mailer.stop();
receiver.close();
sink.close();
await close();
await sql.end();
const emailOk = mails.length === 2 && welcomeMail !== undefined && header(welcomeMail.raw, "Subject") === "Welcome to usebetter, Acme" && acme.welcomeMail.startsWith("eml_") && globex.welcomeMail.startsWith("eml_");
const webhooksOk =
  received.length === 2 &&
  hooks[0] === `project.created ${JSON.stringify({ id: rocket.id, name: "Rocket" })}` &&
  hooks[1] === `task.completed ${JSON.stringify({ id: design.id, projectId: rocket.id, title: "Design" })}`;
if (peek.status !== 404 || poke.status !== 404 || napNow !== "Nap" || verified.code !== 0 || tampered.code !== 1 || !webhooksOk || !emailOk) {
  console.error("demo: an expectation failed (see above)");
  process.exit(1);
}
