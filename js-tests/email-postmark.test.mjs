// The Postmark transport against a loopback fake that behaves as Postmark documents (server
// token header, ErrorCode in every answer, inactive recipients refused with 406): the JSON the
// core writes (addresses, headers, attachments, `Metadata` with `better_email_id` and the
// tenant, the category's message stream), Postmark's MessageID stored; an inactive recipient is
// suppressed for every tenant; 422 fails at once, 401 and 503 are retried, 429 waits. Postmark
// keeps no idempotency key, so an answer lost after acceptance (E3) is sent again once with
// `onAmbiguous: "retry"`, and held for an operator with `"hold"`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { postmark } from "@usebetterdev/email/postmark";
import { fakePostmark } from "@usebetterdev/email/testing";
import { thrown } from "./helpers/errors.mjs";
import { FAST_RETRIES, RICH_MESSAGE, testEmail } from "./helpers/email.mjs";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
const TOKEN = "pm_server_token";
let db, pool, fake;

const email = (transport, extra = {}) => testEmail(pool, transport, { ...FAST_RETRIES, ...extra });

before(async () => {
  db = await webhooksDatabase("email_postmark");
  pool = db.pool;
  fake = await fakePostmark({ serverToken: TOKEN });
  await pool.query(email(postmark({ serverToken: "x" })).migrationSql(1));
});

after(async () => {
  await fake?.close();
  await db?.drop();
});

const transport = (extra = {}) => postmark({ serverToken: TOKEN, baseUrl: fake.url, ...extra });
const send = (e, input) => inTenant(pool, TENANT, (c) => e.send({ subject: "Hello", text: "plain", ...input }, { tx: c }));
const row = async (id) => (await asSystem(pool, "SELECT status, provider_message_id, last_outcome, last_error FROM email_messages WHERE id = $1", [core.webhookId("email", id, false)]))[0];
const pause = () => new Promise((r) => setTimeout(r, 100));
const byId = (id) => fake.emails.filter((m) => m.body.Metadata?.better_email_id === id);

test("the request: addresses, headers, attachments, Metadata and the category's stream as Postmark takes them; its MessageID is stored", async () => {
  const e = email(transport({ messageStreams: { notifications: "broadcast" } }));
  const a = await send(e, { ...RICH_MESSAGE });
  const b = await send(e, { to: "plain@example.com" });
  assert.equal((await e.drain({ maxMs: 10_000 })).handed, 2);
  const [first] = byId(a.id);
  assert.ok(first, "better_email_id is in Metadata");
  assert.equal(first.body.From, "Acme <hello@acme.example>");
  assert.equal(first.body.To, "Jane Doe <jane@example.com>");
  assert.equal(first.body.Cc, "cc@example.com");
  assert.equal(first.body.ReplyTo, '"Support, Acme" <support@acme.example>');
  assert.equal(first.body.HtmlBody, "<p>Hi</p>");
  assert.equal(first.body.TextBody, "plain");
  assert.equal(first.body.MessageStream, "broadcast");
  assert.deepEqual(first.body.Metadata, { better_email_id: a.id, tenant: TENANT, plan: "pro" });
  const headers = Object.fromEntries(first.body.Headers.map((h) => [h.Name, h.Value]));
  assert.equal(headers["X-Campaign"], "launch");
  assert.match(headers["List-Unsubscribe"], /^<https:\/\/app\.acme\.example\/email\/u\/u1\./);
  assert.equal(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
  assert.deepEqual(first.body.Attachments, [{ Name: "a.bin", Content: Buffer.from([0, 1, 2, 255]).toString("base64"), ContentType: "application/octet-stream" }]);
  const [second] = byId(b.id);
  assert.equal(second.body.MessageStream, "outbound", "transactional mail goes to Postmark's transactional stream");
  for (const [id, m] of [[a.id, first], [b.id, second]]) {
    const r = await row(id);
    assert.deepEqual([r.status, r.provider_message_id], ["sent", m.messageId]);
  }
});

test("an inactive recipient (ErrorCode 406) fails the message and suppresses the address for every tenant", async () => {
  const e = email(transport());
  fake.deactivate("gone@example.com");
  const m = await send(e, { to: "gone@example.com" });
  await e.drain({ maxMs: 10_000 });
  const r = await row(m.id);
  assert.deepEqual([r.status, r.last_outcome], ["failed", "rejected_recipient"]);
  assert.match(r.last_error, /inactive.*ErrorCode 406/);
  const [rcpt] = await asSystem(pool, "SELECT status, suppression_reason FROM email_recipients WHERE message_id = $1", [core.webhookId("email", m.id, false)]);
  assert.deepEqual(rcpt, { status: "bounced", suppression_reason: "hard_bounce" });
  const [s] = await asSystem(pool, "SELECT tenant_id, reason, source FROM email_suppressions WHERE address = 'gone@example.com'");
  assert.deepEqual(s, { tenant_id: null, reason: "hard_bounce", source: "postmark" });
  assert.equal((await inTenant(pool, randomUUID(), (c) => e.send({ to: "gone@example.com", subject: "s", text: "t" }, { tx: c }))).status, "suppressed");
});

test("422 fails at once; 401 and 503 are retried; 429 waits for Retry-After", async () => {
  const e = email(transport());
  fake.failNext(422, { body: { ErrorCode: 300, Message: "Invalid 'From' address" } });
  const bad = await send(e, { to: "x@example.com" });
  await e.drain({ maxMs: 10_000 });
  const f = await row(bad.id);
  assert.deepEqual([f.status, f.last_outcome], ["failed", "rejected_permanent"]);
  assert.match(f.last_error, /Invalid 'From' address \(ErrorCode 300\)/);
  for (const status of [401, 503]) {
    const e = email(transport());
    fake.failNext(status);
    const m = await send(e, { to: `retry${status}@example.com` });
    await e.drain({ maxMs: 10_000 });
    assert.equal((await row(m.id)).last_outcome, status === 401 ? "auth_failed" : "retryable");
    await pause();
    let retrier = e;
    if (status === 401) {
      // The transport rests 60 s in the instance that heard the 401; a minute later (the due
      // time moved here), a worker sends it.
      await asSystem(pool, "UPDATE email_messages SET next_attempt_at = now() WHERE id = $1", [core.webhookId("email", m.id, false)]);
      retrier = email(transport());
    }
    await retrier.drain({ maxMs: 10_000 });
    assert.equal((await row(m.id)).status, "sent");
  }
  fake.failNext(429, { headers: { "retry-after": "90" } });
  const slow = await send(e, { to: "slow@example.com" });
  await e.drain({ maxMs: 10_000 });
  const [t] = await asSystem(pool, "SELECT status, last_outcome, next_attempt_at > now() + interval '85 seconds' AS waits FROM email_messages WHERE id = $1", [core.webhookId("email", slow.id, false)]);
  assert.deepEqual(t, { status: "queued", last_outcome: "throttled", waits: true });
});

test("E3 on Postmark: an answer lost after acceptance is sent again once with onAmbiguous \"retry\"; held with \"hold\", where resolve drop cancels it", async () => {
  const retry = email(transport());
  fake.dropNext();
  const m = await send(retry, { to: "twice@example.com" });
  await retry.drain({ maxMs: 10_000 });
  assert.equal((await row(m.id)).last_outcome, "ambiguous");
  await pause();
  await retry.drain({ maxMs: 10_000 });
  assert.equal((await row(m.id)).status, "sent");
  assert.equal(byId(m.id).length, 2, "no idempotency at Postmark: the lost answer's copy and the retry");

  const heard = [];
  const hold = email(transport(), { onAmbiguous: "hold", onEvent: (ev) => heard.push(ev) });
  fake.dropNext();
  const h = await send(hold, { to: "held@example.com" });
  await hold.drain({ maxMs: 10_000 });
  await pause();
  await hold.drain({ maxMs: 10_000 });
  assert.equal((await row(h.id)).status, "ambiguous");
  assert.equal(byId(h.id).length, 1, "not sent again");
  assert.deepEqual(heard.map((ev) => [ev.type, ev.id, ev.transport]), [["message.ambiguous", h.id, "postmark"]]);
  await hold.resolve(h.id, "drop", { tenantId: TENANT });
  assert.equal((await row(h.id)).status, "cancelled");
});

test("bad options are refused by name", () => {
  assert.match(thrown(() => postmark({})), /^EMAIL_INVALID_CONFIG: postmark\(\): invalid `serverToken`/);
  assert.match(thrown(() => postmark({ serverToken: TOKEN, baseUrl: "ftp://x" })), /^EMAIL_INVALID_CONFIG: invalid `baseUrl`/);
  assert.match(thrown(() => postmark({ serverToken: TOKEN, messageStreams: { marketing: "" } })), /`messageStreams\.marketing`/);
  assert.match(thrown(() => postmark({ serverToken: TOKEN, maxPerSecond: -1 })), /`maxPerSecond`/);
});
