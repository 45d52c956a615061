// suite: once (scripts/test.sh runs it once; the others run on each backend)
// E16, email on an edge runtime: the worker js-tests/edge/worker-email.mjs, bundled under the
// `workerd` condition, served by workerd against the local PostgreSQL (node-postgres over
// cloudflare:sockets) and fake Resend and SES on loopback. A tenant-scoped sign-up sends with a
// code template (and a failed one sends nothing), a cron trigger drains the outbox to Resend over
// fetch (and a transactional mail to SES, signed in the edge module), the events endpoint verifies a Resend and a SendGrid event, the one-click unsubscribe
// endpoint suppresses, `smtp()` is refused with EMAIL_TRANSPORT_UNAVAILABLE. The core's edge
// module keeps its 250 KB budget; email is the second module §13 allows, loaded only by the
// email package.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createSign, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import core from "@usebetter-rs/core";
import { betterEmail, defineTemplate, html } from "@usebetterdev/email";
import { resend } from "@usebetterdev/email/resend";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport, fakeResend, fakeSes } from "@usebetterdev/email/testing";
import { serveWorker } from "./edge/workerd.mjs";
import { asSystem } from "./helpers/webhooks.mjs";
import { tenantDatabase } from "./helpers/app.mjs";

const require = createRequire(import.meta.url);
const coreDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");
const resendSecret = core.webhookGenerateSecret("v1", randomBytes(24)).secret;
const sendgrid = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const AWS = { accessKeyId: "AKIDEDGE", secretAccessKey: "edge/secret", sessionToken: "edge-session" };
let db, fake, fakeAws, worker, bindings, ACME, GLOBEX;
// The welcome mail's id (as send() returned it).
let welcomeId;

before(async () => {
  // Tenants Acme and Globex, `projects` under row-level security (the tenant migration).
  db = await tenantDatabase("email_edge");
  ({ acme: ACME, globex: GLOBEX } = db.ids);
  // The email schema as the CLI would migrate it (any configuration with the same tables).
  const migrator = betterEmail({ database: sqlEmailAdapter(db.pool), transport: captureTransport(), from: "a@acme.example", unsubscribe: { baseUrl: "https://app.acme.example/email/u" }, secretsKey: randomBytes(32).toString("base64") });
  await db.pool.query(migrator.migrationSql(1));
  fake = await fakeResend();
  fakeAws = await fakeSes(AWS);

  bindings = {
    DATABASE_URL: db.url,
    RESEND_URL: fake.url,
    SES_URL: fakeAws.url,
    AWS_CREDENTIALS: JSON.stringify(AWS),
    SECRETS_KEY: randomBytes(32).toString("base64"),
    RESEND_SECRET: resendSecret,
    SENDGRID_KEY: sendgrid.publicKey.export({ type: "spki", format: "der" }).toString("base64"),
  };
  worker = await serveWorker(new URL("./edge/worker-email.mjs", import.meta.url).pathname, { prefix: "usebetter-email-edge-", bindings, readyPath: "/smtp" });
  // The tenant package's edge module, and the email package's own.
  assert.deepEqual(worker.wasm, ["usebetter_email_bg.wasm", "usebetter_wasm_bg.wasm"]);
});

after(async () => {
  worker?.stop();
  await fake?.close();
  await fakeAws?.close();
  await db?.close();
});

const call = (...args) => worker.call(...args);
const signup = (tenant, body) => call("POST", "/signup", { headers: { "x-tenant-id": tenant, "content-type": "application/json" }, body: JSON.stringify(body) });
const drain = () => call("GET", "/", { cron: true });

test("E16: a tenant-scoped send() in workerd, drained by a cron trigger to Resend over fetch", async () => {
  const ok = await signup(ACME, { name: "Ada", to: "ada@example.com" });
  assert.equal(ok.status, 200, `${ok.text}\n${worker.logs()}`);
  assert.equal(ok.json.status, "queued");
  welcomeId = ok.json.id;
  const failed = await signup(GLOBEX, { name: "Bob", to: "bob@example.com", fail: true });
  assert.equal(failed.status, 500, "the sign-up failed after send()");
  const rows = await asSystem(db.pool, "SELECT m.tenant_id, m.subject, m.status, p.name FROM email_messages m JOIN projects p ON p.tenant_id = m.tenant_id AND p.name LIKE 'signup:%'");
  assert.deepEqual(rows, [{ tenant_id: ACME, subject: "Welcome, Ada", status: "queued", name: "signup:ada@example.com" }], "the rolled-back sign-up left neither its row nor a mail");

  const cron = await drain();
  assert.equal(cron.status, 200, `${cron.text}\n${worker.logs()}`);
  assert.equal(cron.json.outcome, "ok", worker.logs());
  assert.equal(fake.emails.length, 1, worker.logs());
  const [mail] = fake.emails;
  assert.deepEqual([mail.body.to, mail.body.subject, mail.body.from], [["ada@example.com"], "Welcome, Ada", "Acme <hello@acme.example>"]);
  assert.match(String(mail.body.html), /<p>Hello Ada<\/p>/);
  assert.equal(mail.idempotencyKey, ok.json.id, "the message id is Resend's idempotency key");
  const [sent] = await asSystem(db.pool, "SELECT status, transport, provider_message_id FROM email_messages");
  assert.deepEqual(sent, { status: "sent", transport: "resend", provider_message_id: mail.id });
  assert.equal((await drain()).json.outcome, "ok");
  assert.equal(fake.emails.length, 1, "a second drain sends nothing again");
});

test("E16: the events endpoint verifies a Resend and a SendGrid event in workerd; forged ones are 401", async () => {
  const publicId = welcomeId;
  const now = Math.floor(Date.now() / 1000);
  const delivered = JSON.stringify({ type: "email.delivered", created_at: new Date().toISOString(), data: { email_id: randomUUID(), to: ["ada@example.com"], tags: { better_email_id: publicId } } });
  const svix = (secret) => {
    const sid = `msg_${randomBytes(8).toString("hex")}`;
    return { "content-type": "application/json", "svix-id": sid, "svix-timestamp": String(now), "svix-signature": core.webhookSign({ id: sid, timestamp: now, body: delivered, secret }) };
  };
  const r = await call("POST", "/email/events/resend", { headers: svix(resendSecret), body: delivered });
  assert.deepEqual([r.status, r.json], [200, { received: 1, applied: 1 }], `${r.text}\n${worker.logs()}`);
  const forged = await call("POST", "/email/events/resend", { headers: svix(core.webhookGenerateSecret("v1", randomBytes(24)).secret), body: delivered });
  assert.equal(forged.status, 401);

  const open = JSON.stringify([{ email: "ada@example.com", timestamp: now, event: "open", sg_event_id: randomBytes(12).toString("base64url"), better_email_id: publicId }]);
  const sign = (body) => createSign("SHA256").update(String(now) + body).sign(sendgrid.privateKey).toString("base64");
  const sg = (body, signature) => call("POST", "/email/events/sendgrid", { headers: { "content-type": "application/json", "x-twilio-email-event-webhook-timestamp": String(now), "x-twilio-email-event-webhook-signature": signature }, body });
  const good = await sg(open, sign(open));
  assert.deepEqual([good.status, good.json], [200, { received: 1, applied: 1 }], good.text);
  const tampered = await sg(open.replace("open", "click"), sign(open));
  assert.equal(tampered.status, 401);
  const events = await asSystem(db.pool, "SELECT tenant_id, type, provider FROM email_events ORDER BY provider");
  assert.deepEqual(events, [{ tenant_id: ACME, type: "delivered", provider: "resend" }, { tenant_id: ACME, type: "opened", provider: "sendgrid" }]);
});

test("E16: the one-click unsubscribe endpoint in workerd suppresses the tenant's category", async () => {
  const [mail] = fake.emails;
  const header = mail.body.headers?.["List-Unsubscribe"];
  const m = /<https:\/\/app\.acme\.example(\/email\/u\/[^>]+)>/.exec(header ?? "");
  assert.ok(m, `List-Unsubscribe: ${header}`);
  assert.equal(mail.body.headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
  const get = await call("GET", m[1]);
  assert.equal(get.status, 200);
  assert.deepEqual(await asSystem(db.pool, "SELECT count(*)::int AS n FROM email_suppressions"), [{ n: 0 }], "a GET changes nothing");
  const post = await call("POST", m[1], { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
  assert.equal(post.status, 200, post.text);
  assert.equal(post.headers.get("location"), null);
  assert.equal((await call("POST", `${m[1].slice(0, -2)}xx`, { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" })).status, 404, "a tampered token");
  const rows = await asSystem(db.pool, "SELECT tenant_id, address, category, reason FROM email_suppressions");
  assert.deepEqual(rows, [{ tenant_id: ACME, address: "ada@example.com", category: "notifications", reason: "unsubscribe" }]);
  const again = await signup(ACME, { name: "Ada", to: "ada@example.com" });
  assert.equal(again.json.status, "suppressed", again.text);
});

test("E16: smtp() in workerd fails with EMAIL_TRANSPORT_UNAVAILABLE, naming the way out", async () => {
  const r = await call("GET", "/smtp");
  assert.equal(r.json.code, "EMAIL_TRANSPORT_UNAVAILABLE", r.text);
  assert.equal(r.json.name, "EmailConfigError");
  assert.match(r.json.message, /resend\(\)/);
});

test("E16: §13's budget: the core's edge module within 250 KB gzip, email in a second module of its own", (t) => {
  const gz = (dir, file) => gzipSync(readFileSync(join(coreDir, dir, file)), { level: 9 }).length;
  const edge = gz("wasm-edge", "usebetter_wasm_bg.wasm");
  const email = gz("wasm-email", "usebetter_email_bg.wasm");
  t.diagnostic(`edge module ${edge} B gzip, email edge module ${email} B gzip`);
  assert.ok(edge <= 250 * 1024, `edge wasm is ${edge} B gzip`);
  // The email module is loaded only by @usebetterdev/email; its ceiling guards against growth
  // (today about 409 KB, 6 KB of it rendering for `render: "worker"`; a worker may be 3 MB gzip
  // on Cloudflare's free plan).
  assert.ok(email > 100_000 && email <= 416 * 1024, `email edge wasm is ${email} B gzip`);
});

test("E16: a send in workerd of a template a tenant has overridden is stored for a Node worker to render (§7.3); the edge drain leaves it", async () => {
  // The edge module has no template engine; the override is stored as `templates.save` would.
  await asSystem(db.pool, "INSERT INTO email_templates (id, tenant_id, name, locale, version, subject, html) VALUES (gen_random_uuid(), $1, 'welcome', '', 1, 'Hi {{ name }}', '<p>{{ name }}</p>')", [GLOBEX]);
  const r = await signup(GLOBEX, { name: "Gus", to: "gus@example.com" });
  assert.equal(r.status, 200, `${r.text}\n${worker.logs()}`);
  assert.equal(r.json.status, "queued");
  const stored = async () => (await asSystem(db.pool, "SELECT status, rendered, subject, html, props FROM email_messages WHERE message_id_header LIKE $1", [`<${r.json.id}@%`]))[0];
  assert.deepEqual(await stored(), { status: "queued", rendered: false, subject: null, html: null, props: { name: "Gus" } });
  assert.deepEqual(await asSystem(db.pool, "SELECT count(*)::int AS n FROM projects WHERE name = 'signup:gus@example.com'"), [{ n: 1 }]);
  // Acme, without an override, still sends rendered from the edge.
  const ok = await signup(ACME, { name: "Ann", to: "ann@example.com" });
  assert.equal(ok.json.status, "queued", ok.text);
  const sent = fake.emails.length;
  assert.equal((await drain()).json.outcome, "ok", worker.logs());
  assert.equal(fake.emails.length, sent + 1, worker.logs());
  assert.equal(fake.emails.at(-1).body.subject, "Welcome, Ann");
  assert.equal((await stored()).status, "queued", "the edge worker cannot render the override: left for Node");

  // A Node worker with the same templates renders it with Globex's override, then sends it.
  const welcome = defineTemplate({ name: "welcome", category: "notifications", subject: (p) => `Welcome, ${p.name}`, html: (p) => html`<p>Hello ${p.name}</p>`, editable: true });
  const node = betterEmail({
    database: sqlEmailAdapter(db.pool),
    transport: resend({ apiKey: "re_test", baseUrl: fake.url, timeoutMs: 5000 }),
    from: "Acme <hello@acme.example>",
    templates: { welcome },
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: bindings.SECRETS_KEY,
  });
  assert.equal((await node.drain()).handed, 1);
  assert.deepEqual(await stored(), { status: "sent", rendered: true, subject: "Hi Gus", html: "<p>Gus</p>", props: null });
  const mail = fake.emails.at(-1);
  assert.deepEqual([mail.body.to, mail.body.subject, mail.body.html], [["gus@example.com"], "Hi Gus", "<p>Gus</p>"]);
});

test("E16: a transactional mail routed to SES from workerd: SigV4-signed in the edge module, our MIME as Content.Raw", async () => {
  const r = await call("POST", "/receipt", { headers: { "x-tenant-id": ACME, "content-type": "application/json" }, body: JSON.stringify({ to: "payer@example.com" }) });
  assert.equal(r.json.status, "queued", `${r.text}\n${worker.logs()}`);
  const cron = await drain();
  assert.equal(cron.json.outcome, "ok", worker.logs());
  // The fake answers only a request whose signature it computes again from its own key.
  const got = fakeAws.emails.find((m) => m.tags.better_email_id === r.json.id);
  assert.ok(got, `SES got ${fakeAws.requests} request(s)\n${worker.logs()}`);
  assert.deepEqual(got.destinations, ["payer@example.com"]);
  assert.equal(got.tags.tenant, ACME);
  assert.equal(got.headers["x-amz-security-token"], "edge-session");
  assert.match(got.raw, /^Subject: Your receipt\r$/m);
  const [row] = await asSystem(db.pool, "SELECT status, transport, provider_message_id FROM email_messages WHERE subject = 'Your receipt'");
  assert.deepEqual(row, { status: "sent", transport: "ses", provider_message_id: got.messageId });
});
