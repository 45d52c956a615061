// The raw-MIME and JSON transports beyond Resend and Postmark (spec §8.2–§8.4), each against a
// loopback fake that behaves as its provider documents: SES v2 (our MIME as `Content.Raw`, the
// envelope as the destination, SigV4 checked by the fake and independently by aws4fetch,
// credentials from a function), SendGrid (`/v3/mail/send` JSON, 202 with `X-Message-Id`) and
// Mailgun (`messages.mime` form with one `to` per recipient). Provider ids are stored; refusals
// are judged by the core (by SES's error type first); bad options are refused by name.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { AwsV4Signer } from "aws4fetch";
import core from "@usebetter-rs/core";
import { ses } from "@usebetterdev/email/ses";
import { sendgrid } from "@usebetterdev/email/sendgrid";
import { mailgun } from "@usebetterdev/email/mailgun";
import { fakeSes, fakeSendgrid, fakeMailgun } from "@usebetterdev/email/testing";
import { thrown } from "./helpers/errors.mjs";
import { FAST_RETRIES, RICH_MESSAGE, testEmail } from "./helpers/email.mjs";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
const AWS = { accessKeyId: "AKIDTEST", secretAccessKey: "test/secret+key" };
let db, pool, fakes;

const email = (transport, extra = {}) => testEmail(pool, transport, { ...FAST_RETRIES, ...extra });
const send = (e, input) => inTenant(pool, TENANT, (c) => e.send({ subject: "Hello", text: "plain", ...input }, { tx: c }));
/** Cancels what earlier cases left queued, so that the next drain hands only its own message. */
const settle = () => asSystem(pool, "UPDATE email_messages SET status = 'cancelled' WHERE status = 'queued'");
const row = async (id) => (await asSystem(pool, "SELECT status, provider_message_id, last_outcome, last_error FROM email_messages WHERE id = $1", [core.webhookId("email", id, false)]))[0];

before(async () => {
  db = await webhooksDatabase("email_providers");
  pool = db.pool;
  fakes = {
    ses: await fakeSes({ ...AWS, region: "eu-west-1" }),
    sendgrid: await fakeSendgrid({ apiKey: "SG.test" }),
    mailgun: await fakeMailgun({ apiKey: "key-test", domain: "mg.acme.example" }),
  };
  await pool.query(email(sendgrid({ apiKey: "x" })).migrationSql(1));
});

after(async () => {
  for (const f of Object.values(fakes ?? {})) await f.close();
  await db?.drop();
});

const sesTransport = (extra = {}) => ses({ region: "eu-west-1", credentials: AWS, baseUrl: fakes.ses.url, ...extra });

test("SES: our MIME as Content.Raw to the envelope (bcc included), EmailTags and the configuration set; signed as aws4fetch signs it; its MessageId stored", async () => {
  const e = email(sesTransport({ configurationSetName: "transactional" }));
  const m = await send(e, { ...RICH_MESSAGE, bcc: "audit@acme.example" });
  assert.equal((await e.drain({ maxMs: 10_000 })).handed, 1);
  const got = fakes.ses.emails.find((x) => x.tags.better_email_id === m.id);
  assert.ok(got, "better_email_id is an EmailTag");
  assert.deepEqual(got.tags, { better_email_id: m.id, tenant: TENANT, plan: "pro" });
  assert.deepEqual(got.destinations.sort(), ["audit@acme.example", "cc@example.com", "jane@example.com"]);
  assert.equal(got.from, "hello@acme.example");
  assert.equal(got.configurationSetName, "transactional");
  assert.match(got.raw, /^Subject: Hello\r$/m);
  assert.match(got.raw, /^List-Unsubscribe: <https:\/\/app\.acme\.example\/email\/u\//m);
  assert.match(got.raw, /^X-Campaign: launch\r$/m);
  assert.doesNotMatch(got.raw, /^Bcc:/im, "a blind copy stays out of the headers");
  assert.ok(got.raw.split("\n").every((l) => l === "" || l.endsWith("\r")), "CRLF line ends, exactly as built");
  // An independent signer, given the same request and time, writes the same Authorization.
  const signer = new AwsV4Signer({
    url: `${fakes.ses.url}/v2/email/outbound-emails`,
    method: "POST",
    headers: { "content-type": got.headers["content-type"] },
    body: got.body,
    ...AWS,
    service: "ses",
    region: "eu-west-1",
    datetime: got.headers["x-amz-date"],
    allHeaders: true,
  });
  assert.equal(got.headers.authorization, (await signer.sign()).headers.get("authorization"));
  const r = await row(m.id);
  assert.deepEqual([r.status, r.provider_message_id], ["sent", got.messageId]);
});

test("SES: credentials from a function are asked before each request and carry the session token; a wrong secret or a failing function is auth_failed", async () => {
  let asked = 0;
  // Shaped as the AWS SDK's providers return them: extra fields are left out of the signer's input.
  const e = email(sesTransport({ credentials: async () => (asked++, { ...AWS, sessionToken: "FQoGZXIvYXdzEXAMPLE", expiration: new Date(Date.now() + 3_600_000), accountId: "123456789012" }) }));
  const m = await send(e, { to: "token@example.com" });
  await e.drain({ maxMs: 10_000 });
  assert.equal(asked, 1);
  const got = fakes.ses.emails.find((x) => x.tags.better_email_id === m.id);
  assert.equal(got.headers["x-amz-security-token"], "FQoGZXIvYXdzEXAMPLE");
  assert.match(got.headers.authorization, /SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,/);
  assert.equal((await row(m.id)).status, "sent");

  const wrong = email(sesTransport({ credentials: { ...AWS, secretAccessKey: "not/the/secret" } }));
  const w = await send(wrong, { to: "wrong@example.com" });
  await wrong.drain({ maxMs: 10_000 });
  const rw = await row(w.id);
  assert.deepEqual([rw.status, rw.last_outcome], ["queued", "auth_failed"]);
  assert.match(rw.last_error, /^403: The request signature we calculated does not match/);

  const before = fakes.ses.requests;
  const failing = email(sesTransport({ credentials: async () => { throw new Error("vault sealed"); } }));
  const f = await send(failing, { to: "nocreds@example.com" });
  await failing.drain({ maxMs: 10_000 });
  const rf = await row(f.id);
  assert.deepEqual([rf.status, rf.last_outcome], ["queued", "auth_failed"]);
  assert.match(rf.last_error, /ses: credentials: vault sealed/);
  assert.equal(fakes.ses.requests, before, "nothing was sent without credentials");

  // A worker with good credentials sends both (their due time moved to now).
  await asSystem(pool, "UPDATE email_messages SET next_attempt_at = now() WHERE id = ANY($1)", [[w.id, f.id].map((id) => core.webhookId("email", id, false))]);
  await email(sesTransport()).drain({ maxMs: 10_000 });
  assert.deepEqual([(await row(w.id)).status, (await row(f.id)).status], ["sent", "sent"]);
});

test("SES: refusals are judged by error type: MessageRejected fails at once, a paused account is auth_failed, an exceeded quota throttles, 500 is retried", async () => {
  const cases = [
    [400, "MessageRejected", "failed", "rejected_permanent"],
    [400, "SendingPausedException", "queued", "auth_failed"],
    [400, "LimitExceededException", "queued", "throttled"],
    [500, "InternalFailure", "queued", "retryable"],
  ];
  for (const [status, type, want, outcome] of cases) {
    const e = email(sesTransport());
    fakes.ses.failNext(status, { headers: { "x-amzn-ErrorType": `${type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/` }, body: { message: `${type} here` } });
    const m = await send(e, { to: `${type.toLowerCase()}@example.com` });
    await e.drain({ maxMs: 10_000 });
    const r = await row(m.id);
    assert.deepEqual([r.status, r.last_outcome, r.last_error], [want, outcome, `${status}: ${type} here`], type);
    await settle();
  }
});

test("SendGrid: the message as /v3/mail/send JSON with custom_args; 202's X-Message-Id stored; a 400 fails with SendGrid's message", async () => {
  const e = email(sendgrid({ apiKey: "SG.test", baseUrl: fakes.sendgrid.url }));
  const m = await send(e, { ...RICH_MESSAGE, bcc: "audit@acme.example" });
  await e.drain({ maxMs: 10_000 });
  const got = fakes.sendgrid.emails.find((x) => x.body.custom_args?.better_email_id === m.id);
  assert.ok(got, "better_email_id is a custom arg");
  assert.deepEqual(got.body.personalizations, [{ to: [{ email: "jane@example.com", name: "Jane Doe" }], cc: [{ email: "cc@example.com" }], bcc: [{ email: "audit@acme.example" }] }]);
  assert.deepEqual(got.body.from, { email: "hello@acme.example", name: "Acme" });
  assert.deepEqual(got.body.reply_to, { email: "support@acme.example", name: "Support, Acme" });
  assert.deepEqual(got.body.content, [{ type: "text/plain", value: "plain" }, { type: "text/html", value: "<p>Hi</p>" }]);
  assert.deepEqual(got.body.custom_args, { better_email_id: m.id, tenant: TENANT, plan: "pro" });
  assert.equal(got.body.headers["X-Campaign"], "launch");
  assert.equal(got.body.headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
  assert.deepEqual(got.body.attachments, [{ content: Buffer.from([0, 1, 2, 255]).toString("base64"), type: "application/octet-stream", filename: "a.bin", disposition: "attachment" }]);
  assert.deepEqual(Object.values(await row(m.id)).slice(0, 2), ["sent", got.messageId]);

  fakes.sendgrid.failNext(400, { body: { errors: [{ message: "The from address does not match a verified Sender Identity.", field: "from" }] } });
  const bad = await send(e, { to: "x@example.com" });
  await e.drain({ maxMs: 10_000 });
  const r = await row(bad.id);
  assert.deepEqual([r.status, r.last_outcome, r.last_error], ["failed", "rejected_permanent", "400: The from address does not match a verified Sender Identity."]);
  const locked = email(sendgrid({ apiKey: "SG.other", baseUrl: fakes.sendgrid.url }));
  const l = await send(locked, { to: "y@example.com" });
  await locked.drain({ maxMs: 10_000 });
  assert.equal((await row(l.id)).last_outcome, "auth_failed");
  await settle();
});

test("JSON providers need a `to`: with every To recipient suppressed since the send, the Cc recipients (or a single Bcc) become it and the mail goes out to them", async () => {
  const e = email(sendgrid({ apiKey: "SG.test", baseUrl: fakes.sendgrid.url }));
  const gone = `gone-${randomUUID()}@example.com`;
  const m = await send(e, { to: gone, cc: ["c1@example.com", "c2@example.com"], bcc: "audit@acme.example" });
  const single = await send(e, { to: gone, bcc: "only@acme.example" });
  await e.suppressions.add({ address: gone, reason: "hard_bounce", scope: "global" });
  await e.drain({ maxMs: 10_000 });
  const got = (id) => fakes.sendgrid.emails.find((x) => x.body.custom_args?.better_email_id === id);
  assert.deepEqual(got(m.id)?.body.personalizations, [{ to: [{ email: "c1@example.com" }, { email: "c2@example.com" }], bcc: [{ email: "audit@acme.example" }] }]);
  assert.deepEqual(got(single.id)?.body.personalizations, [{ to: [{ email: "only@acme.example" }] }]);
  assert.equal((await row(m.id)).status, "sent");
  assert.equal((await row(single.id)).status, "sent");
  const states = await asSystem(pool, "SELECT address_key, status FROM email_recipients WHERE message_id = $1 ORDER BY address_key", [core.webhookId("email", m.id, false)]);
  assert.deepEqual(
    states.map((r) => [r.address_key, r.status]),
    [["audit@acme.example", "sent"], ["c1@example.com", "sent"], ["c2@example.com", "sent"], [gone, "suppressed"]],
  );
  await settle();
});

test("Mailgun: our MIME as the message part, one `to` per envelope recipient, user variables; the id stored without brackets; a wrong key is auth_failed", async () => {
  const e = email(mailgun({ apiKey: "key-test", domain: "mg.acme.example", baseUrl: fakes.mailgun.url }));
  const m = await send(e, { ...RICH_MESSAGE, bcc: "audit@acme.example" });
  await e.drain({ maxMs: 10_000 });
  const got = fakes.mailgun.emails.find((x) => x.variables.better_email_id === m.id);
  assert.ok(got, "better_email_id is a user variable");
  assert.deepEqual(got.variables, { better_email_id: m.id, tenant: TENANT, plan: "pro" });
  assert.deepEqual(got.to.sort(), ["audit@acme.example", "cc@example.com", "jane@example.com"]);
  assert.match(got.raw, /^Subject: Hello\r$/m);
  assert.match(got.raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
  assert.doesNotMatch(got.raw, /^Bcc:/im);
  assert.deepEqual(Object.values(await row(m.id)).slice(0, 2), ["sent", got.messageId]);
  assert.doesNotMatch(got.messageId, /[<>]/);

  const wrong = email(mailgun({ apiKey: "key-wrong", domain: "mg.acme.example", baseUrl: fakes.mailgun.url }));
  const w = await send(wrong, { to: "w@example.com" });
  await wrong.drain({ maxMs: 10_000 });
  assert.deepEqual(Object.values(await row(w.id)).slice(2, 4), ["auth_failed", '401: "Forbidden"']);
  await settle();
});

test("SES and Mailgun send the same MIME for the same message", async () => {
  const input = { to: "same@example.com", html: "<p>é</p>", attachments: RICH_MESSAGE.attachments };
  const a = email(sesTransport());
  const b = email(mailgun({ apiKey: "key-test", domain: "mg.acme.example", baseUrl: fakes.mailgun.url }));
  // One at a time: a drain hands every queued message to its own transport.
  const ma = await send(a, input);
  await a.drain({ maxMs: 10_000 });
  const mb = await send(b, input);
  await b.drain({ maxMs: 10_000 });
  const ra = fakes.ses.emails.find((x) => x.tags.better_email_id === ma.id).raw;
  const rb = fakes.mailgun.emails.find((x) => x.variables.better_email_id === mb.id).raw;
  // Only what is per message differs: its ids, date and MIME boundaries.
  const shape = (raw, m) => raw.replaceAll(m.id, "ID").replace(/^(Message-ID|Date|X-Better-Email-Id): .*$/gm, "$1").replace(/[0-9a-f]{16,}/g, "B");
  assert.equal(shape(ra, ma), shape(rb, mb));
});

test("a message's own tags cannot take the names events correlate by", async () => {
  const e = email(sesTransport());
  for (const name of ["better_email_id", "tenant"]) {
    await assert.rejects(send(e, { to: "t@example.com", tags: { [name]: "x" } }), (err) => err.code === "EMAIL_INVALID_ARGUMENT" && err.message.includes(`tags.${name}`));
  }
});

test("bad options are refused by name", () => {
  assert.match(thrown(() => ses({ credentials: AWS })), /^EMAIL_INVALID_CONFIG: invalid `region`/);
  assert.match(thrown(() => ses({ region: "eu-west-1" })), /^EMAIL_INVALID_CONFIG: ses\(\): invalid `credentials`/);
  assert.match(thrown(() => ses({ region: "eu-west-1", credentials: { accessKeyId: "A B", secretAccessKey: "s" } })), /invalid `credentials\.accessKeyId`/);
  assert.match(thrown(() => ses({ region: "eu-west-1", credentials: { accessKeyId: "A" } })), /^EMAIL_INVALID_CONFIG: /);
  assert.match(thrown(() => ses({ region: "eu-west-1", credentials: () => AWS, baseUrl: "ftp://x" })), /invalid `baseUrl`/);
  assert.match(thrown(() => ses({ region: "eu-west-1", credentials: AWS, baseUrl: "https://user@email.eu-west-1.amazonaws.com" })), /invalid `baseUrl`/);
  assert.match(thrown(() => ses({ region: "eu-west-1", credentials: AWS, baseUrl: "https://email.eu-west-1.amazonaws.com/?x=1" })), /invalid `baseUrl`/);
  assert.match(thrown(() => sendgrid({})), /^EMAIL_INVALID_CONFIG: sendgrid\(\): invalid `apiKey`/);
  assert.match(thrown(() => sendgrid({ apiKey: "SG.x", maxPerSecond: 0 })), /`maxPerSecond`/);
  assert.match(thrown(() => mailgun({ apiKey: "k" })), /invalid `domain`/);
  assert.match(thrown(() => mailgun({ apiKey: "k", domain: "mg.acme.example/x" })), /^EMAIL_INVALID_CONFIG: invalid `domain`/);
});
