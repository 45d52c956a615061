// Tenant-editable templates (spec §7.3, §20 E8) against real PostgreSQL with row-level security
// on: a tenant's stored override wins over the code template for that tenant only (with locale
// fallback), `save` checks an override against the code template's sample props and refuses
// what cannot be bounded, a template that loops stops at the fuel limit at send time, and
// nothing is written by a refused call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { betterEmail, defineTemplate, html } from "@usebetterdev/email";
import { drizzleEmailAdapter } from "@usebetterdev/email/drizzle";
import { captureTransport } from "@usebetterdev/email/testing";
import { rejectsWith } from "./helpers/errors.mjs";
import { webhooksDatabase, inTenant as inTenantOf, asSystem } from "./helpers/webhooks.mjs";

const A = randomUUID();
const B = randomUUID();
let db, pool, email, tenant;

const welcome = defineTemplate({
  name: "welcome",
  subject: (p) => `Welcome, ${p.name}`,
  html: (p) => html`<p>Code template for ${p.name}</p>`,
  sample: { name: "Sam", items: ["a"] },
  editable: true,
});
const digest = defineTemplate({ name: "digest", subject: () => "Digest", text: (p) => `${p.items.length} items`, sample: { items: [1] }, editable: true });
const bare = defineTemplate({ name: "bare", subject: () => "Bare", text: () => "x", editable: true });
// Not editable: no tenant can override the password reset.
const reset = defineTemplate({ name: "reset", subject: () => "Reset", text: (p) => `code ${p.code}`, sample: { code: "1" } });

const inTenant = (t, fn) => inTenantOf(pool, t, fn);
const rows = (sql, params) => asSystem(pool, sql, params);
const stored = async (id) => (await rows("SELECT subject, html, text_body FROM email_messages WHERE message_id_header = $1", [`<${id}@acme.example>`]))[0];
const send = (t, input) => tenant.runAs(t, () => email.send({ to: "jane@example.com", template: "welcome", props: { name: "Jane" }, ...input }));
const rejects = rejectsWith;

before(async () => {
  db = await webhooksDatabase("email_stored_templates");
  pool = db.pool;
  email = betterEmail({
    database: drizzleEmailAdapter(drizzle(pool)),
    transport: captureTransport(),
    from: "Acme <hello@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
    templates: { welcome, digest, bare, reset },
  });
  await pool.query(email.migrationSql(1));
  await pool.query("CREATE TABLE tenants (id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())");
  for (const [i, id] of [A, B].entries()) await pool.query("INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)", [id, `t${i}`]);
  tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
});

after(async () => {
  await db?.drop();
});

test("a tenant's override wins for that tenant only, by locale (de-CH → de → default); remove brings the code template back", async () => {
  const de = await tenant.runAs(A, () => email.templates.save({ name: "welcome", locale: "de", subject: "Hallo {{ name }}", html: "<p>Willkommen {{ name }}</p>" }));
  assert.equal(de.tenantId, A);
  assert.equal(de.locale, "de");
  assert.equal(de.version, 1);
  await tenant.runAs(A, () => email.templates.save({ name: "welcome", subject: "Hey {{ name|upper }}", html: "<b>{{ name }}</b>", text: "Hey {{ name }}" }));

  // A: locale chain, escaping of props in the html part only; an override without a text part
  // gets one from its HTML (entities decoded).
  const deCh = await send(A, { locale: "de-CH", props: { name: `<script>"J"</script>` } });
  assert.deepEqual(await stored(deCh.id), { subject: `Hallo <script>"J"</script>`, html: "<p>Willkommen &lt;script&gt;&quot;J&quot;&lt;&#x2f;script&gt;</p>", text_body: `Willkommen <script>"J"</script>` });
  const plain = await send(A, {});
  assert.deepEqual(await stored(plain.id), { subject: "Hey JANE", html: "<b>Jane</b>", text_body: "Hey Jane" });
  // B: the code template, which gives no text: it is derived from the HTML.
  const other = await send(B, { locale: "de" });
  assert.deepEqual(await stored(other.id), { subject: "Welcome, Jane", html: "<p>Code template for Jane</p>", text_body: "Code template for Jane" });

  // Lists and raw SQL in B's scope show none of A's rows.
  assert.deepEqual((await tenant.runAs(A, () => email.templates.list())).map((t) => [t.name, t.locale, t.version]), [["welcome", "", 1], ["welcome", "de", 1]]);
  assert.deepEqual(await tenant.runAs(B, () => email.templates.list()), []);
  assert.equal((await inTenant(B, (c) => c.query("SELECT count(*)::int AS n FROM email_templates"))).rows[0].n, 0);

  // Preview says where the render came from.
  const pa = await tenant.runAs(A, () => email.templates.preview("welcome", { name: "Ann" }, { locale: "de-AT" }));
  assert.deepEqual([pa.source, pa.locale, pa.subject, pa.html, pa.text], ["database", "de", "Hallo Ann", "<p>Willkommen Ann</p>", "Willkommen Ann"]);
  const pb = await tenant.runAs(B, () => email.templates.preview("welcome", { name: "Ann" }));
  assert.deepEqual([pb.source, pb.subject], ["code", "Welcome, Ann"]);

  // A new version retires the old one; removing the German one falls back to the default.
  const v2 = await tenant.runAs(A, () => email.templates.save({ name: "welcome", locale: "de", subject: "Servus {{ name }}", html: "<p>{{ name }}</p>" }));
  assert.equal(v2.version, 2);
  assert.equal((await rows("SELECT count(*)::int AS n FROM email_templates WHERE tenant_id = $1 AND locale = 'de' AND active", [A]))[0].n, 1);
  assert.equal((await stored((await send(A, { locale: "de" })).id)).subject, "Servus Jane");
  assert.deepEqual(await tenant.runAs(A, () => email.templates.remove("welcome", { locale: "de" })), { removed: 1 });
  assert.equal((await stored((await send(A, { locale: "de" })).id)).subject, "Hey JANE");
  assert.deepEqual(await tenant.runAs(A, () => email.templates.remove("welcome")), { removed: 1 });
  assert.equal((await stored((await send(A, {})).id)).subject, "Welcome, Jane");
});

test("two saves of one template at once take turns: the later one is the next version, one stays active", async () => {
  const save = (c, subject) => email.templates.save({ name: "digest", locale: "fr", subject, text: "{{ items|length }} articles" }, { tx: c });
  let release, firstSaved;
  const held = new Promise((r) => (release = r));
  // The first save's transaction stays open (with its lock) until released.
  const first = inTenant(A, async (c) => {
    firstSaved = await save(c, "Un");
    await held;
  });
  while (!firstSaved) await new Promise((r) => setTimeout(r, 10));
  let settled = false;
  const second = inTenant(A, (c) => save(c, "Deux")).finally(() => (settled = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(settled, false, "the second save waits for the first transaction");
  release();
  await first;
  const later = await second;
  assert.equal(later.version, firstSaved.version + 1);
  const versions = await rows("SELECT version, active, subject FROM email_templates WHERE tenant_id = $1 AND name = 'digest' AND locale = 'fr' ORDER BY version", [A]);
  assert.deepEqual(versions, [
    { version: firstSaved.version, active: false, subject: "Un" },
    { version: later.version, active: true, subject: "Deux" },
  ]);
  assert.deepEqual(await tenant.runAs(A, () => email.templates.remove("digest", { locale: "fr" })), { removed: 1 });
});

test("an operator acts for one tenant with { tenantId }; without a tenant the calls are refused", async () => {
  const saved = await email.templates.save({ name: "welcome", subject: "Operator {{ name }}", text: "t", tenantId: B });
  assert.equal(saved.tenantId, B);
  assert.equal((await stored((await send(B, {})).id)).subject, "Operator Jane");
  assert.equal((await email.templates.list({ tenantId: B })).length, 1);
  await rejects(email.templates.list(), "EMAIL_TENANT_REQUIRED", /tenant\.runAs.*tenantId/);
  await rejects(email.templates.save({ name: "welcome", subject: "x", text: "x" }), "EMAIL_TENANT_REQUIRED");
  // Another tenant's id inside a tenant scope.
  await rejects(tenant.runAs(A, () => email.templates.list({ tenantId: B })), "EMAIL_TENANT_MISMATCH");
  assert.deepEqual(await email.templates.remove("welcome", { tenantId: B }), { removed: 1 });
});

test("save checks the override against the code template's sample props and refuses what cannot be bounded; nothing is written", async () => {
  const before = (await rows("SELECT count(*)::int AS n FROM email_templates"))[0].n;
  const save = (input) => tenant.runAs(A, () => email.templates.save({ name: "welcome", ...input }));
  await rejects(save({ subject: "Hi {{ nmae }}", text: "x" }), "EMAIL_TEMPLATE_RENDER_FAILED", /"welcome".*subject: .*undefined/);
  await rejects(save({ subject: "Hi", html: "{% if name %}" }), "EMAIL_TEMPLATE_RENDER_FAILED", /html: syntax error/);
  await rejects(save({ subject: "Hi", html: "{{ name|safe }}" }), "EMAIL_TEMPLATE_RENDER_FAILED", /unknown filter/);
  await rejects(save({ subject: "Hi", text: "{% set s = name %}{{ s }}" }), "EMAIL_TEMPLATE_RENDER_FAILED", /text: `\{% set %\}` is not allowed/);
  await rejects(save({ subject: "Hi", text: "{{ name ~ name }}" }), "EMAIL_TEMPLATE_RENDER_FAILED", /`~` is not allowed/);
  await rejects(save({ subject: "Hi", html: "{% autoescape false %}{{ name }}{% endautoescape %}" }), "EMAIL_TEMPLATE_RENDER_FAILED", /autoescape/);
  await rejects(save({ subject: "Hi" }), "EMAIL_INVALID_ARGUMENT", /`html`, `text` or both/);
  await rejects(save({ subject: "Hi", text: "x", locale: "de_CH" }), "EMAIL_INVALID_ARGUMENT", /`locale`/);
  await rejects(save({ subject: "Hi", text: "x", colour: "red" }), "EMAIL_INVALID_ARGUMENT", /`colour`/);
  await rejects(tenant.runAs(A, () => email.templates.save({ name: "nope", subject: "x", text: "x" })), "EMAIL_TEMPLATE_NOT_FOUND", /"nope"/);
  await rejects(tenant.runAs(A, () => email.templates.save({ name: "bare", subject: "x", text: "x" })), "EMAIL_INVALID_ARGUMENT", /no `sample`/);
  await rejects(tenant.runAs(A, () => email.templates.save({ name: "reset", subject: "x", text: "{{ code }}" })), "EMAIL_INVALID_ARGUMENT", /"reset" is not editable: mark it `editable: true`/);
  assert.equal((await rows("SELECT count(*)::int AS n FROM email_templates"))[0].n, before);
  // A row written behind the API's back for a template that is not editable is never used.
  await rows("INSERT INTO email_templates (id, tenant_id, name, locale, version, subject, text_body) VALUES (gen_random_uuid(), $1, 'reset', '', 1, 'Phish', 'x')", [A]);
  const sent = await tenant.runAs(A, () => email.send({ to: "jane@example.com", template: "reset", props: { code: "42" } }));
  assert.deepEqual(await stored(sent.id), { subject: "Reset", html: null, text_body: "code 42" });
  assert.equal((await tenant.runAs(A, () => email.templates.preview("reset", { code: "1" }))).source, "code");
  // Names are the registry's own keys, not the prototype's.
  await rejects(tenant.runAs(A, () => email.send({ to: "jane@example.com", template: "constructor", props: {} })), "EMAIL_TEMPLATE_NOT_FOUND");
  await rejects(tenant.runAs(A, () => email.templates.preview("toString", {})), "EMAIL_TEMPLATE_NOT_FOUND");
});

test("a stored template that loops without end stops at the fuel limit at send time; nothing is written", async () => {
  const loop = "{% for a in items %}{% for b in items %}{% for c in items %}{% endfor %}{% endfor %}{% endfor %}done";
  await tenant.runAs(A, () => email.templates.save({ name: "digest", subject: "Digest", text: loop }));
  const count = async () => (await rows("SELECT count(*)::int AS n FROM email_messages"))[0].n;
  const n = await count();
  const started = performance.now();
  await rejects(
    tenant.runAs(A, () => email.send({ to: "jane@example.com", template: "digest", props: { items: Array.from({ length: 1000 }, (_, i) => i) } })),
    "EMAIL_TEMPLATE_RENDER_FAILED",
    /"digest".*text: stopped after 50000 instructions/,
  );
  const ms = performance.now() - started;
  assert.ok(ms < 100, `the refused send took ${ms.toFixed(1)} ms`);
  assert.equal(await count(), n);
  // The override renders before the idempotency key is claimed: a caller that catches the error
  // and commits leaves no key behind, so the retry with the same key is sent, not a "duplicate".
  await inTenant(A, async (c) => {
    await rejects(email.send({ to: "jane@example.com", template: "digest", props: { items: Array.from({ length: 1000 }, (_, i) => i) }, idempotencyKey: "digest-1" }, { tx: c }), "EMAIL_TEMPLATE_RENDER_FAILED");
  });
  assert.equal((await rows("SELECT count(*)::int AS n FROM email_idempotency_keys WHERE key = 'digest-1'"))[0].n, 0);
  const retried = await tenant.runAs(A, () => email.send({ to: "jane@example.com", template: "digest", props: { items: [1] }, idempotencyKey: "digest-1" }));
  assert.equal(retried.status, "queued");
  assert.equal((await stored(retried.id)).text_body, "done");
  // The same template with small props sends; B's send of it is the code template's.
  const ok = await tenant.runAs(A, () => email.sendMany([
    { to: "a@example.com", template: "digest", props: { items: [1, 2] } },
    { to: "b@example.com", subject: "no template", text: "x" },
  ]));
  assert.equal((await stored(ok[0].id)).text_body, "done");
  assert.equal((await stored(ok[1].id)).text_body, "x");
  assert.equal((await stored((await tenant.runAs(B, () => email.send({ to: "a@example.com", template: "digest", props: { items: [1, 2] } }))).id)).text_body, "2 items");
});
