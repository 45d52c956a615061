// suite: once (native only: the SMTP transport is the addon's)
// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Transactional email end to end against real PostgreSQL (row-level security on, as a role
// without BYPASSRLS) and an SMTP sink on loopback: a message exists iff its transaction
// committed (node-postgres, postgres.js, Drizzle on both, the tenant package's scope), every
// committed message reaches the sink once; bad input is refused with a coded error before any
// SQL runs; idempotency keys; suppressions at send and at hand-off; an RCPT `550 5.1.1`
// suppresses that address while the others are delivered; retries send the same bytes;
// stale mail expires instead of being sent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import core from "@usebetter-rs/core";
import { betterEmail, defineTemplate, html } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { drizzleEmailAdapter } from "@usebetterdev/email/drizzle";
import { smtp } from "@usebetterdev/email/smtp";
import { webhooksDatabase, inTenant as inTenantOf, asSystem, operatorPool, whileRefusing } from "./helpers/webhooks.mjs";
import { smtpSink, smtpReply } from "./helpers/smtp-sink.mjs";
import { runCli } from "@usebetterdev/email-cli";
import { requireEnv } from "./helpers/db.mjs";

const TENANT = randomUUID();
const KEY = randomBytes(32).toString("base64");
const OTHER = randomUUID();
let db, pool, sink;
// Per recipient address: the RCPT answer to give (once per entry).
const refuse = new Map();
// The DATA answer to give next (then accept).
const dataFailures = [];

const welcome = defineTemplate({
  name: "welcome",
  category: "transactional",
  subject: (p) => `Welcome, ${p.name}`,
  html: (p) => html`<p>Hello ${p.name}</p>`,
  text: (p) => `Hello ${p.name}`,
});

function config(database, extra = {}) {
  return {
    database,
    transport: smtp({ host: "127.0.0.1", port: sink.port, secure: "none", timeoutMs: 5000, pool: { max: 4 } }),
    from: "Acme <hello@acme.example>",
    templates: { welcome },
    retrySchedule: [0, 0.05, 0.05],
    unsubscribe: { baseUrl: "https://app.example/email/u" },
    secretsKey: KEY,
    ...extra,
  };
}

const inTenant = (tenant, fn) => inTenantOf(pool, tenant, fn);
const received = () => sink.state.messages;
const messageId = (raw) => /^Message-ID: <(eml_[0-9a-z]+)@/im.exec(raw.toString())?.[1];

before(async () => {
  assert.equal(core.backend, "native");
  sink = await smtpSink({
    rcpt(address, cb) {
      const answer = refuse.get(address);
      if (answer) {
        refuse.delete(address);
        return cb(smtpReply(...answer));
      }
      cb();
    },
    data(raw, session, cb) {
      const f = dataFailures.shift();
      // The message arrived, and the connection is lost before the answer: an ambiguous hand-off.
      if (f === "drop") return sink.dropAll();
      if (f) return cb(smtpReply(...f));
      cb(null, `Ok: queued as ${received().length}`);
    },
  });
  db = await webhooksDatabase("email_outbox");
  pool = db.pool;
  const setup = betterEmail(config(sqlEmailAdapter(pool)));
  await pool.query(setup.migrationSql(2));
  await pool.query("CREATE TABLE users (id serial PRIMARY KEY, tenant_id uuid NOT NULL, email text NOT NULL)");
  await pool.query("CREATE TABLE tenants (id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())");
  await pool.query("INSERT INTO tenants (id, name, slug) VALUES ($1, 'Acme', 'acme')", [TENANT]);
});

after(async () => {
  await sink?.close();
  await db?.drop();
});

test("E1: 1,000 sign-ups over five clients and scopes, half rolled back: the sink receives exactly the committed welcome mails, once each", async () => {
  received().length = 0;
  const u = new URL(process.env.DATABASE_URL);
  const pgjs = postgres({ host: u.hostname, port: Number(u.port), user: "app", password: "app", database: db.name, max: 2, onnotice: () => {} });
  try {
    const email = betterEmail(config(sqlEmailAdapter(pool)));
    const viaPgjs = betterEmail(config(sqlEmailAdapter(pgjs)));
    const viaDrizzlePg = betterEmail(config(drizzleEmailAdapter(drizzle(pool))));
    const viaDrizzlePgjs = betterEmail(config(drizzleEmailAdapter(drizzlePostgres(pgjs))));
    const tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
    const setTenant = sql`SELECT set_config('app.current_tenant', ${TENANT}, true)`;
    const signUp = (i) => sql`INSERT INTO users (tenant_id, email) VALUES (${TENANT}, ${`user${i}@example.com`})`;
    const mail = (i) => ({ template: "welcome", to: `user${i}@example.com`, props: { name: `user ${i}` } });
    const variants = {
      "node-postgres": (i, fail) => inTenant(TENANT, async (c) => {
        await c.query("INSERT INTO users (tenant_id, email) VALUES ($1, $2)", [TENANT, `user${i}@example.com`]);
        const r = await email.send(mail(i), { tx: c });
        if (fail) throw new Error("rolled back");
        return r;
      }),
      "postgres.js": (i, fail) => pgjs.begin(async (tx) => {
        await tx`SELECT set_config('app.current_tenant', ${TENANT}, true)`;
        await tx`INSERT INTO users (tenant_id, email) VALUES (${TENANT}, ${`user${i}@example.com`})`;
        const r = await viaPgjs.send(mail(i), { tx });
        if (fail) throw new Error("rolled back");
        return r;
      }),
      "Drizzle on node-postgres": (i, fail) => drizzle(pool).transaction(async (tx) => {
        await tx.execute(setTenant);
        await tx.execute(signUp(i));
        const r = await viaDrizzlePg.send(mail(i), { tx });
        if (fail) throw new Error("rolled back");
        return r;
      }),
      "Drizzle on postgres.js": (i, fail) => drizzlePostgres(pgjs).transaction(async (tx) => {
        await tx.execute(setTenant);
        await tx.execute(signUp(i));
        const r = await viaDrizzlePgjs.send(mail(i), { tx });
        if (fail) throw new Error("rolled back");
        return r;
      }),
      // No `tx`: send() joins the tenant package's scope (its transaction, its tenant).
      "@usebetterdev/tenant scope": (i, fail) => tenant.runAs(TENANT, async () => {
        await tenant.getDatabase().execute(signUp(i));
        const r = await viaDrizzlePg.send(mail(i));
        if (fail) throw new Error("rolled back");
        return r;
      }),
    };
    const names = Object.keys(variants);
    const committed = new Map(names.map((n) => [n, new Set()]));
    for (let i = 0; i < 200 * names.length; i++) {
      const name = names[i % names.length];
      const fail = Math.random() < 0.5;
      try {
        const r = await variants[name](i, fail);
        assert.equal(fail, false);
        assert.equal(r.status, "queued");
        assert.match(r.id, /^eml_[0-9a-z]{26}$/);
        committed.get(name).add(r.id);
      } catch (err) {
        assert.equal(err.message, "rolled back", `${name}: ${err.stack}`);
      }
    }
    for (const [name, ids] of committed) assert.ok(ids.size > 50 && ids.size < 150, `${name}: ${ids.size} committed of 200`);
    const all = new Set([...committed.values()].flatMap((s) => [...s]));
    const { rows: users } = await inTenant(TENANT, (c) => c.query("SELECT count(*)::int AS n FROM users"));
    assert.equal(users[0].n, all.size, "one committed user per committed mail");
    const { handed } = await email.drain({ maxMs: 120_000, maxMessages: 5_000, concurrency: 16 });
    assert.equal(handed, all.size);
    const ids = received().map((m) => messageId(m.raw));
    assert.equal(ids.length, all.size, "each committed mail once");
    assert.deepEqual(new Set(ids), all);
    const { rows } = await inTenant(TENANT, (c) => c.query("SELECT status, count(*)::int AS n FROM email_messages GROUP BY status"));
    assert.deepEqual(rows, [{ status: "sent", n: all.size }]);
    // The template rendered into the stored and sent message, envelope to the user.
    const one = received()[0];
    assert.match(one.to[0], /^user\d+@example\.com$/);
    assert.match(one.raw.toString(), /Subject: Welcome, user \d+/);
    assert.equal(one.from, "hello@acme.example");
  } finally {
    await pgjs.end();
  }
});

test("bad input is refused with a coded error naming the field, and nothing is written", async () => {
  const email = betterEmail(config(sqlEmailAdapter(pool)));
  const count = async () => (await asSystem(pool, "SELECT count(*)::int AS n FROM email_messages"))[0].n;
  const before = await count();
  const cases = [
    [{ to: "not an address", subject: "x", text: "y" }, "EMAIL_INVALID_ADDRESS", /`to`/],
    [{ to: "a@example.com", subject: "x\r\nBcc: victim@example.com", text: "y" }, "EMAIL_INVALID_HEADER", /subject/i],
    [{ to: "a@example.com", subject: "x", text: "y", headers: { "X-Evil": "a\r\nBcc: v@example.com" } }, "EMAIL_INVALID_HEADER", /X-Evil/],
    [{ to: "a@example.com", subject: "x", text: "y", headers: { From: "ceo@example.com" } }, "EMAIL_INVALID_HEADER", /From/],
    [{ to: "a@example.com", subject: "x", text: "y", category: "newsletters" }, "EMAIL_INVALID_ARGUMENT", /`category`/],
    [{ template: "farewell", to: "a@example.com", props: {} }, "EMAIL_TEMPLATE_NOT_FOUND", /farewell/],
    [{ to: "a@example.com", subject: "x", text: "y", tags: { "bad tag": "v" } }, "EMAIL_INVALID_ARGUMENT", /tags/],
    [{ to: "a@example.com", subject: "x", text: "y", sendAt: new Date(Date.now() + 40 * 86_400_000) }, "EMAIL_INVALID_ARGUMENT", /`sendAt`/],
    [{ to: Array.from({ length: 51 }, (_, i) => `r${i}@example.com`), subject: "x", text: "y" }, "EMAIL_TOO_MANY_RECIPIENTS", /50/],
  ];
  for (const [input, code, message] of cases) {
    await assert.rejects(inTenant(TENANT, (c) => email.send(input, { tx: c })), (err) => {
      assert.equal(err.code, code, `${JSON.stringify(input).slice(0, 80)}: ${err.message}`);
      assert.match(err.message, message);
      return true;
    });
  }
  await assert.rejects(email.send({ to: "a@example.com", subject: "x", text: "y" }), { code: "EMAIL_NO_TRANSACTION", message: /\{ tx \}/ });
  assert.equal(await count(), before);
  assert.throws(() => betterEmail({ ...config(sqlEmailAdapter(pool)), maxRecipent: 3 }), { code: "EMAIL_INVALID_CONFIG", message: /maxRecipent/ });
  assert.throws(() => betterEmail({ ...config(sqlEmailAdapter(pool)), from: "" }), { code: "EMAIL_INVALID_CONFIG", message: /`from`/ });
});

test("idempotency keys: the same request is a duplicate with the first id; another request under the key is a conflict", async () => {
  const email = betterEmail(config(sqlEmailAdapter(pool)));
  const input = { template: "welcome", to: "dup@example.com", props: { name: "Dup" }, idempotencyKey: `welcome/${randomUUID()}` };
  const first = await inTenant(TENANT, (c) => email.send(input, { tx: c }));
  const again = await inTenant(TENANT, (c) => email.send(input, { tx: c }));
  assert.deepEqual([first.status, again.status, again.id], ["queued", "duplicate", first.id]);
  await assert.rejects(inTenant(TENANT, (c) => email.send({ ...input, props: { name: "Other" } }, { tx: c })), { code: "EMAIL_IDEMPOTENCY_CONFLICT", message: /idempotencyKey/ });
  // Another tenant's key space is its own.
  const other = await inTenant(OTHER, (c) => email.send(input, { tx: c }));
  assert.equal(other.status, "queued");
  assert.notEqual(other.id, first.id);
  // Within one sendMany, a repeated key is a duplicate of the first input.
  const many = await inTenant(TENANT, (c) => email.sendMany([{ ...input, idempotencyKey: "k2" }, { ...input, idempotencyKey: "k2" }], { tx: c }));
  assert.deepEqual(many.map((r) => r.status), ["queued", "duplicate"]);
  assert.equal(many[1].id, many[0].id);
  await email.drain({ maxMs: 10_000 });
});

test("autocommit: a keyed send whose INSERT fails leaves its key free (claim and INSERT commit together)", async () => {
  // Autocommit with `tenantId` acts as the operator (row-level security bypassed).
  const operator = operatorPool(db.name);
  const email = betterEmail(config(sqlEmailAdapter(operator)));
  // The database refuses the message (its subject) after the key's claim.
  await whileRefusing(pool, "email_messages", "subject", async () => {
    const key = `auto/${randomUUID()}`;
    const o = { tx: "autocommit", tenantId: TENANT };
    const input = (name) => ({ template: "welcome", to: "auto@example.com", props: { name }, idempotencyKey: key });
    await assert.rejects(email.send(input("boom"), o), /refused by the test/);
    // Another request under the same key is a new message, neither a conflict nor a duplicate.
    const first = await email.send(input("Fine"), o);
    assert.equal(first.status, "queued");
    const again = await email.send(input("Fine"), o);
    assert.deepEqual([again.status, again.id], ["duplicate", first.id]);
    // Without a key, autocommit stays one statement on the pool.
    assert.equal((await email.send({ ...input("Plain"), idempotencyKey: undefined }, o)).status, "queued");
  }).finally(() => operator.end());
  // Sent now, so later tests' counts of received mail start clean.
  await betterEmail(config(sqlEmailAdapter(pool))).drain({ maxMs: 10_000 });
});

test("suppressions: a global hard bounce blocks every tenant's send; a tenant's complaint blocks only that tenant; a transactional mail ignores unsubscribes", async () => {
  received().length = 0;
  const email = betterEmail(config(sqlEmailAdapter(pool)));
  await asSystem(pool, "INSERT INTO email_suppressions (id, tenant_id, address, address_hash, reason) VALUES ($1, NULL, 'gone@example.com', sha256(convert_to('gone@example.com', 'UTF8')), 'hard_bounce')", [randomUUID()]);
  await asSystem(pool, "INSERT INTO email_suppressions (id, tenant_id, address, address_hash, reason) VALUES ($1, $2, 'angry@example.com', sha256(convert_to('angry@example.com', 'UTF8')), 'complaint')", [randomUUID(), TENANT]);
  await asSystem(pool, "INSERT INTO email_suppressions (id, tenant_id, address, address_hash, reason) VALUES ($1, $2, 'bye@example.com', sha256(convert_to('bye@example.com', 'UTF8')), 'unsubscribe')", [randomUUID(), TENANT]);
  const send = (tenant, to) => inTenant(tenant, (c) => email.send({ to, subject: "s", text: "t" }, { tx: c }));
  for (const t of [TENANT, OTHER]) {
    const r = await send(t, "Gone@Example.com");
    assert.equal(r.status, "suppressed");
    assert.deepEqual(r.suppressed, [{ address: "Gone@Example.com", reason: "hard_bounce" }]);
  }
  assert.equal((await send(TENANT, "angry@example.com")).status, "suppressed");
  assert.equal((await send(OTHER, "angry@example.com")).status, "queued");
  assert.equal((await send(TENANT, "bye@example.com")).status, "queued", "transactional mail ignores an unsubscribe");
  const mixed = await inTenant(TENANT, (c) => email.send({ to: ["ok@example.com", "gone@example.com"], subject: "s", text: "t" }, { tx: c }));
  assert.equal(mixed.status, "queued");
  assert.deepEqual(mixed.suppressed, [{ address: "gone@example.com", reason: "hard_bounce" }]);
  // A tenant scope cannot list the global entry it was just blocked by.
  const { rows: visible } = await inTenant(TENANT, (c) => c.query("SELECT address FROM email_suppressions ORDER BY address"));
  assert.deepEqual(visible.map((r) => r.address), ["angry@example.com", "bye@example.com"]);
  // Suppressed after the send, before the hand-off: the second enforcement drops it.
  const late = await inTenant(TENANT, (c) => email.send({ to: "late@example.com", subject: "s", text: "t" }, { tx: c }));
  await asSystem(pool, "INSERT INTO email_suppressions (id, tenant_id, address, address_hash, reason) VALUES ($1, NULL, 'late@example.com', sha256(convert_to('late@example.com', 'UTF8')), 'manual')", [randomUUID()]);
  await email.drain({ maxMs: 10_000 });
  const envelopes = received().map((m) => m.to);
  assert.deepEqual(envelopes.flat().sort(), ["angry@example.com", "bye@example.com", "ok@example.com"]);
  const [row] = await asSystem(pool, "SELECT status FROM email_messages WHERE id = $1", [core.webhookId("email", late.id, false)]);
  assert.equal(row.status, "suppressed");
});

test("an RCPT `550 5.1.1` suppresses that address globally while the other recipients are delivered", async () => {
  received().length = 0;
  const email = betterEmail(config(sqlEmailAdapter(pool)));
  refuse.set("nobody@example.com", [550, "5.1.1 no such user"]);
  const r = await inTenant(TENANT, (c) => email.send({ to: ["nobody@example.com", "somebody@example.com"], subject: "s", text: "t" }, { tx: c }));
  await email.drain({ maxMs: 10_000 });
  assert.deepEqual(received().map((m) => m.to), [["somebody@example.com"]]);
  const uuid = core.webhookId("email", r.id, false);
  const recipients = await asSystem(pool, "SELECT address, status, suppression_reason FROM email_recipients WHERE message_id = $1 ORDER BY address", [uuid]);
  assert.deepEqual(recipients, [
    { address: "nobody@example.com", status: "bounced", suppression_reason: "hard_bounce" },
    { address: "somebody@example.com", status: "sent", suppression_reason: null },
  ]);
  const [s] = await asSystem(pool, "SELECT tenant_id, reason, source FROM email_suppressions WHERE address = 'nobody@example.com'");
  assert.deepEqual(s, { tenant_id: null, reason: "hard_bounce", source: "smtp" });
  const next = await inTenant(OTHER, (c) => email.send({ to: "nobody@example.com", subject: "s", text: "t" }, { tx: c }));
  assert.equal(next.status, "suppressed");
});

test("a 451 after DATA is retried on the schedule with the same bytes; a 554 fails at once; stale mail expires unsent", async () => {
  received().length = 0;
  const email = betterEmail(config(sqlEmailAdapter(pool)));
  dataFailures.push([451, "4.3.0 try again later"]);
  const r = await inTenant(TENANT, (c) => email.send({ to: "retry@example.com", subject: "Grüße", html: "<p>Ünïcode</p>", text: "plain" }, { tx: c }));
  await email.drain({ maxMs: 10_000 });
  await new Promise((res) => setTimeout(res, 120));
  await email.drain({ maxMs: 10_000 });
  assert.equal(received().length, 2, "the refused attempt and the retry both reached DATA");
  assert.ok(received()[0].raw.equals(received()[1].raw), "every attempt sends the same bytes");
  const uuid = core.webhookId("email", r.id, false);
  const attempts = await asSystem(pool, "SELECT attempt_number, outcome, provider_status FROM email_attempts WHERE message_id = $1 ORDER BY attempt_number", [uuid]);
  assert.deepEqual(attempts, [
    { attempt_number: 1, outcome: "retryable", provider_status: 451 },
    { attempt_number: 2, outcome: "sent", provider_status: 250 },
  ]);

  dataFailures.push([554, "5.7.1 rejected as spam"]);
  const bad = await inTenant(TENANT, (c) => email.send({ to: "spam@example.com", subject: "s", text: "t" }, { tx: c }));
  await email.drain({ maxMs: 10_000 });
  const [failed] = await asSystem(pool, "SELECT status, last_outcome, last_error FROM email_messages WHERE id = $1", [core.webhookId("email", bad.id, false)]);
  assert.equal(failed.status, "failed");
  assert.equal(failed.last_outcome, "rejected_permanent");
  assert.match(failed.last_error, /spam/);

  const before = received().length;
  const stale = await inTenant(TENANT, (c) => email.send({ to: "otp@example.com", subject: "code", text: "123456", expiresAt: new Date(Date.now() + 30) }, { tx: c }));
  await new Promise((res) => setTimeout(res, 80));
  await email.drain({ maxMs: 10_000 });
  assert.equal(received().length, before, "an expired message is never sent");
  const [expired] = await asSystem(pool, "SELECT status FROM email_messages WHERE id = $1", [core.webhookId("email", stale.id, false)]);
  assert.equal(expired.status, "expired");
});

test("an in-process worker started before the sends delivers them shortly after commit", async () => {
  received().length = 0;
  const email = betterEmail(config(sqlEmailAdapter(pool)));
  const worker = email.createWorker({ pollIntervalMs: 50 });
  await worker.start();
  try {
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await inTenant(TENANT, (c) => email.send({ template: "welcome", to: `w${i}@example.com`, props: { name: `w${i}` } }, { tx: c }))).id);
    const deadline = Date.now() + 10_000;
    while (received().length < 20 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(new Set(received().map((m) => messageId(m.raw))), new Set(ids));
  } finally {
    await worker.stop();
  }
});

test("E3: a connection lost after the message is ambiguous: sent again by default; held with onAmbiguous \"hold\" until a delivered event resolves it", async () => {
  received().length = 0;
  const pause = () => new Promise((res) => setTimeout(res, 120));
  const email = betterEmail(config(sqlEmailAdapter(pool)));
  dataFailures.push("drop");
  const r = await inTenant(TENANT, (c) => email.send({ to: "amb@example.com", subject: "maybe", text: "t" }, { tx: c }));
  await email.drain({ maxMs: 10_000 });
  await pause();
  await email.drain({ maxMs: 10_000 });
  const uuid = core.webhookId("email", r.id, false);
  const attempts = await asSystem(pool, "SELECT outcome FROM email_attempts WHERE message_id = $1 ORDER BY attempt_number", [uuid]);
  assert.deepEqual(attempts.map((a) => a.outcome), ["ambiguous", "sent"]);
  assert.equal(received().length, 2, "at least once: the sink has the message twice");
  assert.equal((await asSystem(pool, "SELECT status FROM email_messages WHERE id = $1", [uuid]))[0].status, "sent");

  received().length = 0;
  const heard = [];
  const held = betterEmail(config(sqlEmailAdapter(pool), { onAmbiguous: "hold", onEvent: (e) => heard.push(e) }));
  dataFailures.push("drop");
  const h = await inTenant(TENANT, (c) => held.send({ to: "held@example.com", subject: "once at most", text: "t" }, { tx: c }));
  await held.drain({ maxMs: 10_000 });
  await pause();
  await held.drain({ maxMs: 10_000 });
  const hid = core.webhookId("email", h.id, false);
  const status = async () => (await asSystem(pool, "SELECT status FROM email_messages WHERE id = $1", [hid]))[0].status;
  assert.equal(await status(), "ambiguous", "held for an operator, not sent again");
  assert.equal(received().length, 1);
  assert.deepEqual(
    heard.map((e) => [e.type, e.id, e.tenantId, e.transport]),
    [["message.ambiguous", h.id, TENANT, "smtp"]],
    "onEvent hears the held message once",
  );
  // The provider's delivered event for it (Resend's shape, signed) resolves it to `sent`.
  const secret = core.webhookGenerateSecret("v1", randomBytes(24)).secret;
  const body = JSON.stringify({ type: "email.delivered", created_at: new Date().toISOString(), data: { email_id: "re_1", to: ["held@example.com"], tags: { better_email_id: h.id } } });
  const ts = Math.floor(Date.now() / 1000);
  const headers = { "svix-id": "msg_held", "svix-timestamp": String(ts), "svix-signature": core.webhookSign({ id: "msg_held", timestamp: ts, body, secret }) };
  const res = await held.handlers.events(new Request("http://localhost/email/events/resend", { method: "POST", headers, body }), { resend: { secret } });
  assert.equal(res.status, 200);
  assert.equal(await status(), "sent");
  assert.deepEqual(heard.slice(1).map((e) => [e.type, e.provider, e.recipient]), [["delivered", "resend", "held@example.com"]], "and the provider's event, normalized");
});

test("operators: resolve --drop / --resend (CLI and API) decide a held message; retry re-queues a failed one; cancel a queued one; wrong states and ids are refused by code", async () => {
  received().length = 0;
  const pause = () => new Promise((res) => setTimeout(res, 120));
  const held = betterEmail(config(sqlEmailAdapter(pool), { onAmbiguous: "hold" }));
  const statusOf = async (id) => (await asSystem(pool, "SELECT status FROM email_messages WHERE id = $1", [core.webhookId("email", id, false)]))[0]?.status;
  const hold = async (to) => {
    dataFailures.push("drop");
    const m = await inTenant(TENANT, (c) => held.send({ to, subject: "held", text: "t" }, { tx: c }));
    await held.drain({ maxMs: 10_000 });
    await pause();
    await held.drain({ maxMs: 10_000 });
    assert.equal(await statusOf(m.id), "ambiguous");
    return m;
  };
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${db.name}`;
  const cli = (args) => runCli(args, { cwd: process.cwd(), config: { tenant: { tenantTables: [] }, email: {} }, env: { DATABASE_URL: url.href } });

  // --drop through the CLI: cancelled, never sent again.
  const dropped = await hold("drop@example.com");
  const byCli = await cli(["resolve", dropped.id, "--drop"]);
  assert.equal(byCli.code, 0, byCli.stderr);
  assert.equal(byCli.stdout, `${dropped.id}: cancelled\n`);
  assert.equal(await statusOf(dropped.id), "cancelled");
  // --resend through the API: sent once more.
  const resent = await hold("resend@example.com");
  await assert.rejects(held.resolve(resent.id, "resend"), (e) => e.code === "EMAIL_TENANT_REQUIRED" && /\{ tenantId \}/.test(e.message), "outside a scope the operator names the tenant");
  await assert.rejects(held.resolve(resent.id, "resend", { tenantId: OTHER }), (e) => e.code === "EMAIL_NOT_FOUND", "another tenant's message is not found");
  await assert.rejects(held.resolve(resent.id, "resend", { tenantId: "nope" }), (e) => e.code === "EMAIL_INVALID_ARGUMENT" && /`tenantId`/.test(e.message));
  await held.resolve(resent.id, "resend", { tenantId: TENANT });
  await held.drain({ maxMs: 10_000 });
  assert.equal(await statusOf(resent.id), "sent");
  assert.equal(received().filter((m) => m.to.includes("resend@example.com")).length, 2, "the held copy and the resent one");
  assert.equal(received().filter((m) => m.to.includes("drop@example.com")).length, 1);

  // A second decision on a decided message, and usage errors.
  const again = await cli(["resolve", dropped.id, "--resend"]);
  assert.equal(again.code, 1);
  assert.equal(again.errorCode, "EMAIL_INVALID_STATE");
  assert.match(again.stderr, /cannot resend eml_\w+: it is cancelled, and resend takes a message that is ambiguous/);
  assert.equal((await cli(["resolve", dropped.id])).code, 2, "one of --resend or --drop");
  assert.equal((await cli(["resolve", dropped.id, "--resend", "--drop"])).code, 2);
  assert.equal((await cli(["resolve", "eml_nope", "--drop"])).code, 2, "not an email id");
  const unknown = await cli(["cancel", "eml_" + "0".repeat(26)]);
  assert.deepEqual([unknown.code, unknown.errorCode], [1, "EMAIL_NOT_FOUND"]);

  // retry: a message failed with a 554 after DATA goes out once more.
  dataFailures.push([554, "5.7.1 rejected"]);
  const failed = await inTenant(TENANT, (c) => held.send({ to: "retry@example.com", subject: "again", text: "t" }, { tx: c }));
  await held.drain({ maxMs: 10_000 });
  assert.equal(await statusOf(failed.id), "failed");
  assert.equal((await cli(["retry", failed.id])).stdout, `${failed.id}: queued\n`);
  await held.drain({ maxMs: 10_000 });
  assert.equal(await statusOf(failed.id), "sent");
  await assert.rejects(held.retry(failed.id, { tenantId: TENANT }), (e) => e.code === "EMAIL_INVALID_STATE" && /it is sent/.test(e.message));
  // retry of a message whose only recipient the server refused at RCPT: sent to that recipient.
  refuse.set("policy@example.com", [550, "5.7.1 not now"]);
  const refused = await inTenant(TENANT, (c) => held.send({ to: "policy@example.com", subject: "refused", text: "t" }, { tx: c }));
  await held.drain({ maxMs: 10_000 });
  assert.equal(await statusOf(refused.id), "failed");
  refuse.delete("policy@example.com");
  await inTenant(TENANT, (c) => held.retry(refused.id, { tx: c }));
  await held.drain({ maxMs: 10_000 });
  assert.equal(await statusOf(refused.id), "sent");
  assert.equal(received().filter((m) => m.to.includes("policy@example.com")).length, 1);

  // cancel: a queued message (sent later) is cancelled; in another tenant's scope it does not exist.
  const later = await inTenant(TENANT, (c) => held.send({ to: "later@example.com", subject: "later", text: "t", sendAt: new Date(Date.now() + 3_600_000) }, { tx: c }));
  await assert.rejects(
    inTenant(randomUUID(), (c) => held.cancel(later.id, { tx: c })),
    (e) => e.code === "EMAIL_NOT_FOUND",
  );
  await inTenant(TENANT, (c) => held.cancel(later.id, { tx: c }));
  assert.equal(await statusOf(later.id), "cancelled");
  await assert.rejects(held.cancel(42), (e) => e.code === "EMAIL_INVALID_ARGUMENT" && /`id`/.test(e.message));
  await assert.rejects(held.resolve(later.id, "maybe"), (e) => e.code === "EMAIL_INVALID_ARGUMENT" && /`decision`/.test(e.message));
});

test("rateLimits.maxQueuedPerTenant: at the cap send() throws EMAIL_RATE_LIMITED and writes nothing; other tenants and later sends go on; bad per-tenant rates and warm-up entries are refused by name", async () => {
  const capped = betterEmail(config(sqlEmailAdapter(pool), { rateLimits: { maxQueuedPerTenant: 3 } }));
  const tenant = randomUUID();
  const later = (to, extra = {}) => ({ to, subject: "later", text: "t", sendAt: new Date(Date.now() + 3_600_000), ...extra });
  const queued = async (t) => (await asSystem(pool, "SELECT count(*)::int AS n FROM email_messages WHERE tenant_id = $1 AND status = 'queued'", [t]))[0].n;
  await inTenantOf(pool, tenant, (c) => capped.sendMany([later("a@example.com"), later("b@example.com")], { tx: c }));
  await inTenantOf(pool, tenant, (c) => capped.send(later("c@example.com"), { tx: c }));
  assert.equal(await queued(tenant), 3);
  // Caught inside the transaction, which then commits: the refused send must have written nothing.
  const refused = await inTenantOf(pool, tenant, (c) => capped.send(later("d@example.com", { idempotencyKey: "k-capped" }), { tx: c }).catch((e) => e));
  assert.equal(refused.code, "EMAIL_RATE_LIMITED", String(refused));
  assert.match(refused.message, /rateLimits\.maxQueuedPerTenant/);
  assert.equal(await queued(tenant), 3);
  const keys = await asSystem(pool, "SELECT count(*)::int AS n FROM email_idempotency_keys WHERE key = 'k-capped'");
  assert.equal(keys[0].n, 0, "no idempotency key was claimed for the refused send");
  // Another tenant is not affected.
  const other = randomUUID();
  assert.equal((await inTenantOf(pool, other, (c) => capped.send(later("e@example.com"), { tx: c }))).status, "queued");
  // Once one is cancelled, the tenant is under the cap again.
  const [first] = await asSystem(pool, "SELECT id FROM email_messages WHERE tenant_id = $1 AND status = 'queued' LIMIT 1", [tenant]);
  await inTenantOf(pool, tenant, (c) => capped.cancel(core.webhookId("email", first.id, true), { tx: c }));
  assert.equal((await inTenantOf(pool, tenant, (c) => capped.send(later("d@example.com", { idempotencyKey: "k-capped" }), { tx: c }))).status, "queued");
  // At the cap, a repeated send adds nothing: it still answers `duplicate`.
  assert.equal((await inTenantOf(pool, tenant, (c) => capped.send(later("d@example.com", { idempotencyKey: "k-capped" }), { tx: c }))).status, "duplicate");
  // One under the cap, a sendMany of two would step over it: refused whole.
  const [second] = await asSystem(pool, "SELECT id FROM email_messages WHERE tenant_id = $1 AND status = 'queued' LIMIT 1", [tenant]);
  await inTenantOf(pool, tenant, (c) => capped.cancel(core.webhookId("email", second.id, true), { tx: c }));
  const many = await inTenantOf(pool, tenant, (c) => capped.sendMany([later("f@example.com"), later("g@example.com")], { tx: c })).catch((e) => e);
  assert.equal(many.code, "EMAIL_RATE_LIMITED", String(many));
  assert.equal(await queued(tenant), 2);
  assert.equal((await inTenantOf(pool, tenant, (c) => capped.send(later("f@example.com"), { tx: c }))).status, "queued");
  assert.equal(await queued(tenant), 3);
  for (const [extra, field] of [
    [{ rateLimits: { perTenant: { perMinute: 0 } } }, "rateLimits.perTenant.perMinute"],
    [{ rateLimits: { perTenant: { perHour: 1.5 } } }, "rateLimits.perTenant.perHour"],
    [{ warmup: [{ domain: "m.example", startPerDay: 50, factor: 20, maxPerDay: 1000 }] }, "warmup[0].factor"],
    [{ warmup: [{ domain: "m.example", startPerDay: 50, factor: 1.5, maxPerDay: 1000 }, { domain: "M.Example", startPerDay: 5, factor: 2, maxPerDay: 10 }] }, "warmup[1].domain"],
  ]) {
    assert.throws(() => betterEmail(config(sqlEmailAdapter(pool), extra)), (e) => e.code === "EMAIL_INVALID_CONFIG" && e.message.startsWith(`invalid \`${field}\``));
  }
});
