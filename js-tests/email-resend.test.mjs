// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The Resend transport against a loopback fake that behaves as Resend documents (Bearer key,
// validation, Idempotency-Key for 24 h): the JSON the core writes (addresses with names, cc and
// bcc, Reply-To, the list headers, attachments, the `better_email_id` tag), the provider's id
// stored; an accepted request whose answer was lost is retried with the same key and the fake
// sends the email once; 429 waits for Retry-After, 422 fails at once, 401 and a refused
// connection are retried.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import core from "@usebetter-rs/core";
import { resend } from "@usebetterdev/email/resend";
import { fakeResend } from "@usebetterdev/email/testing";
import { FAST_RETRIES, RICH_MESSAGE, testEmail } from "./helpers/email.mjs";
import { webhooksDatabase, inTenant as inTenantOf, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
let db, pool, fake;

const email = (transport, extra = {}) => testEmail(pool, transport, { ...FAST_RETRIES, ...extra });

before(async () => {
  db = await webhooksDatabase("email_resend");
  pool = db.pool;
  fake = await fakeResend({ apiKey: "re_test_key" });
  await pool.query(email(resend({ apiKey: "x" })).migrationSql(1));
});

after(async () => {
  await fake?.close();
  await db?.drop();
});

const send = (e, input) => inTenantOf(pool, TENANT, (c) => e.send({ subject: "Hello", text: "plain", ...input }, { tx: c }));
const row = async (id) => (await asSystem(pool, "SELECT status, provider_message_id, last_outcome, last_error, next_attempt_at, attempt_count FROM email_messages WHERE id = $1", [core.webhookId("email", id, false)]))[0];

test("the request: addresses, headers, attachments and tags as Resend takes them; its id is stored", async () => {
  const e = email(resend({ apiKey: "re_test_key", baseUrl: fake.url }));
  const a = await send(e, { ...RICH_MESSAGE, bcc: ["hidden@example.com"] });
  const b = await send(e, { to: "plain@example.com" });
  const { handed } = await e.drain({ maxMs: 10_000 });
  assert.equal(handed, 2);
  const got = new Map(fake.emails.map((m) => [m.idempotencyKey, m]));
  const first = got.get(a.id);
  assert.ok(first, "the message id is the Idempotency-Key");
  assert.equal(first.body.from, "Acme <hello@acme.example>");
  assert.deepEqual(first.body.to, ["Jane Doe <jane@example.com>"]);
  assert.deepEqual(first.body.cc, ["cc@example.com"]);
  assert.deepEqual(first.body.bcc, ["hidden@example.com"]);
  assert.deepEqual(first.body.reply_to, ['"Support, Acme" <support@acme.example>']);
  assert.equal(first.body.html, "<p>Hi</p>");
  assert.equal(first.body.text, "plain");
  assert.equal(first.body.headers["X-Campaign"], "launch");
  assert.match(first.body.headers["List-Unsubscribe"], /^<https:\/\/app\.acme\.example\/email\/u\/u1\./);
  assert.equal(first.body.headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
  assert.deepEqual(first.body.attachments, [{ filename: "a.bin", content: Buffer.from([0, 1, 2, 255]).toString("base64"), content_type: "application/octet-stream" }]);
  assert.deepEqual(first.body.tags, [{ name: "better_email_id", value: a.id }, { name: "tenant", value: TENANT }, { name: "plan", value: "pro" }]);
  assert.equal(got.get(b.id).body.headers, undefined, "no list headers on transactional mail");
  for (const [id, m] of [[a.id, first], [b.id, got.get(b.id)]]) {
    const r = await row(id);
    assert.deepEqual([r.status, r.provider_message_id], ["sent", m.id]);
  }
});

test("an answer lost after acceptance is ambiguous; the retry carries the same key and Resend sends once", async () => {
  const e = email(resend({ apiKey: "re_test_key", baseUrl: fake.url }));
  const before = { emails: fake.emails.length, requests: fake.requests };
  fake.dropNext();
  const m = await send(e, { to: "once@example.com" });
  await e.drain({ maxMs: 10_000 });
  assert.equal((await row(m.id)).last_outcome, "ambiguous");
  await new Promise((r) => setTimeout(r, 100));
  await e.drain({ maxMs: 10_000 });
  const r = await row(m.id);
  assert.equal(r.status, "sent");
  assert.equal(fake.requests - before.requests, 2, "two requests reached the fake");
  assert.equal(fake.emails.length - before.emails, 1, "one email was sent");
  assert.equal(r.provider_message_id, fake.emails.at(-1).id);
});

test("429 waits at least Retry-After; 422 fails at once; 401 and a refused connection are retried", async () => {
  const e = email(resend({ apiKey: "re_test_key", baseUrl: fake.url }));
  fake.failNext(429, { headers: { "retry-after": "90" }, body: { name: "rate_limit_exceeded", message: "Too many requests" } });
  const slow = await send(e, { to: "slow@example.com" });
  const t0 = Date.now();
  await e.drain({ maxMs: 10_000 });
  const s = await row(slow.id);
  assert.deepEqual([s.status, s.last_outcome], ["queued", "throttled"]);
  assert.ok(new Date(s.next_attempt_at).getTime() >= t0 + 89_000, `next attempt at ${s.next_attempt_at}`);

  fake.failNext(422, { body: { name: "validation_error", message: "Invalid `to` field" } });
  const bad = await send(e, { to: "bad@example.com" });
  await e.drain({ maxMs: 10_000 });
  const b = await row(bad.id);
  assert.deepEqual([b.status, b.last_outcome], ["failed", "rejected_permanent"]);
  assert.match(b.last_error, /^422: Invalid `to` field$/);

  const wrongKey = email(resend({ apiKey: "re_wrong", baseUrl: fake.url }));
  const auth = await send(wrongKey, { to: "auth@example.com" });
  await wrongKey.drain({ maxMs: 10_000 });
  const a = await row(auth.id);
  assert.deepEqual([a.status, a.last_outcome], ["queued", "auth_failed"]);

  const closed = createServer();
  await new Promise((r) => closed.listen(0, "127.0.0.1", r));
  const port = closed.address().port;
  await new Promise((r) => closed.close(r));
  const down = email(resend({ apiKey: "re_test_key", baseUrl: `http://127.0.0.1:${port}` }));
  const refused = await send(down, { to: "down@example.com" });
  await down.drain({ maxMs: 10_000 });
  const d = await row(refused.id);
  assert.deepEqual([d.status, d.last_outcome], ["queued", "retryable"]);
  assert.match(d.last_error, /ECONNREFUSED/);
});

test("a refusal of our credentials pauses the transport for 60 s: later messages wait without a request or an attempt", async () => {
  const events = [];
  const wrong = email(resend({ apiKey: "re_revoked", baseUrl: fake.url, name: "revoked" }), { onEvent: (e) => events.push(e) });
  const first = await send(wrong, { to: "first@example.com" });
  await wrong.drain({ maxMs: 10_000 });
  assert.equal((await row(first.id)).last_outcome, "auth_failed");
  assert.deepEqual([...new Set(events.filter((e) => e.type === "transport.down").map((e) => e.transport))], ["revoked"]);
  const requests = fake.requests;
  const t0 = Date.now();
  const later = [await send(wrong, { to: "later1@example.com" }), await send(wrong, { to: "later2@example.com" })];
  assert.deepEqual(await wrong.drain({ maxMs: 10_000 }), { handed: 0 });
  assert.equal(fake.requests, requests, "nothing reached the provider during the pause");
  for (const m of later) {
    const r = await row(m.id);
    assert.deepEqual([r.status, r.attempt_count, r.last_outcome], ["queued", 0, null]);
    assert.ok(new Date(r.next_attempt_at).getTime() >= t0 + 55_000, `due again at ${r.next_attempt_at}`);
  }
});
