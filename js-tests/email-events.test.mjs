// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// E10, provider events feeding the suppression list, through `emailEventsHandler` mounted in
// Hono: a hard bounce signed as each provider signs it (Resend/Svix, Postmark Basic
// credentials, SendGrid ECDSA, Mailgun HMAC, SES through SNS with a certificate from a loopback
// HTTPS server) suppresses the address globally, so the next send from any tenant is
// `suppressed`; a complaint suppresses for that tenant only; three soft bounces within 7 days
// suppress for 7 days; an event delivered twice is applied once; an event is correlated by our
// id even before the worker has handed the message off; bad signatures are 401, unknown
// providers 404, and nothing is read from a body that failed verification.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, createSign, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { Hono } from "hono";
import core from "@usebetter-rs/core";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport } from "@usebetterdev/email/testing";
import { emailEventsHandler } from "@usebetterdev/email/hono";
import { webhooksDatabase, inTenant as inTenantOf, asSystem } from "./helpers/webhooks.mjs";
import { snsPki, TOPIC } from "./helpers/sns.mjs";

const A = randomUUID();
const B = randomUUID();
let db, pool, email, app, sns;
const resendSecret = core.webhookGenerateSecret("v1", randomBytes(24)).secret;
const sendgrid = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const mailgunKey = randomBytes(16).toString("hex");

before(async () => {
  db = await webhooksDatabase("email_events");
  pool = db.pool;
  sns = await snsPki();
  email = betterEmail({
    database: sqlEmailAdapter(pool),
    transport: captureTransport(),
    from: "Acme <hello@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
  });
  await pool.query(email.migrationSql(1));
  app = new Hono();
  app.post(
    "/email/events/:provider",
    emailEventsHandler(email, {
      resend: { secret: resendSecret },
      postmark: { username: "hooks", password: "s3cret" },
      sendgrid: { publicKey: sendgrid.publicKey.export({ type: "spki", format: "der" }).toString("base64") },
      mailgun: { signingKey: mailgunKey },
      ses: { topicArns: [TOPIC], certHosts: [sns.certHost], trustedCa: sns.pki["ca.pem"], fetchCertificate: (url) => sns.fetchPem(url) },
    }),
  );
});

after(async () => {
  sns?.close();
  await db?.drop();
});

const now = () => Math.floor(Date.now() / 1000);

/** A signed request as `provider` sends `payload`. */
function signed(provider, payload) {
  const body = JSON.stringify(payload);
  const headers = { "content-type": "application/json" };
  if (provider === "resend") {
    const id = `msg_${randomBytes(8).toString("hex")}`;
    Object.assign(headers, { "svix-id": id, "svix-timestamp": String(now()), "svix-signature": core.webhookSign({ id, timestamp: now(), body, secret: resendSecret }) });
  } else if (provider === "postmark") {
    headers.authorization = `Basic ${Buffer.from("hooks:s3cret").toString("base64")}`;
  } else if (provider === "sendgrid") {
    const ts = String(now());
    headers["x-twilio-email-event-webhook-timestamp"] = ts;
    headers["x-twilio-email-event-webhook-signature"] = createSign("SHA256").update(ts + body).sign(sendgrid.privateKey).toString("base64");
  }
  return { method: "POST", headers, body };
}

/** Mailgun signs inside the body. */
function mailgunPayload(eventData) {
  const timestamp = String(now());
  const token = randomBytes(16).toString("hex");
  return { signature: { timestamp, token, signature: createHmac("sha256", mailgunKey).update(timestamp + token).digest("hex") }, "event-data": eventData };
}

const iso = () => new Date().toISOString();
/** A hard bounce of `address` for message `id`, as each provider reports it. */
const hardBounce = {
  resend: (address, id) => ({ type: "email.bounced", created_at: iso(), data: { email_id: randomUUID(), to: [address], bounce: { type: "Permanent", subType: "General" }, tags: { better_email_id: id } } }),
  postmark: (address, id) => ({ RecordType: "Bounce", ID: Math.floor(Math.random() * 1e12), Type: "HardBounce", TypeCode: 1, MessageID: randomUUID(), Email: address, BouncedAt: iso(), Metadata: { better_email_id: id } }),
  sendgrid: (address, id) => [{ email: address, timestamp: now(), event: "bounce", type: "bounce", sg_event_id: randomBytes(12).toString("base64url"), sg_message_id: "14c5d75ce93.filter0001", better_email_id: id }],
  mailgun: (address, id) => mailgunPayload({ event: "failed", severity: "permanent", recipient: address, timestamp: now(), id: randomBytes(8).toString("hex"), "user-variables": { better_email_id: id }, message: { headers: { "message-id": "mg@acme.example" } } }),
  ses: (address, id) => sns.message(2, { message: { eventType: "Bounce", bounce: { bounceType: "Permanent", bouncedRecipients: [{ emailAddress: address }], timestamp: iso() }, mail: { messageId: randomUUID(), tags: { better_email_id: [id] } } } }),
};

const post = (provider, payload) => app.request(`/email/events/${provider}`, signed(provider, payload));
const send = (tenant, to, extra = {}) => inTenantOf(pool, tenant, (c) => email.send({ to, subject: "s", text: "t", ...extra }, { tx: c }));

test("E10: a hard bounce from each provider suppresses the address for every tenant", async () => {
  for (const provider of Object.keys(hardBounce)) {
    const address = `gone-${provider}@example.com`;
    const sent = await send(A, address);
    await email.drain({ maxMs: 10_000 });
    const r = await post(provider, hardBounce[provider](address, sent.id));
    assert.equal(r.status, 200, `${provider}: ${await r.clone().text()}`);
    assert.deepEqual(await r.json(), { received: 1, applied: 1 }, provider);
    const uuid = core.webhookId("email", sent.id, false);
    const [rcpt] = await asSystem(pool, "SELECT status FROM email_recipients WHERE message_id = $1", [uuid]);
    assert.equal(rcpt.status, "bounced", provider);
    const [event] = await asSystem(pool, "SELECT tenant_id, type, bounce, provider FROM email_events WHERE message_id = $1", [uuid]);
    assert.deepEqual(event, { tenant_id: A, type: "bounced", bounce: "hard", provider });
    const [s] = await asSystem(pool, "SELECT tenant_id, reason, source FROM email_suppressions WHERE address = $1", [address]);
    assert.deepEqual(s, { tenant_id: null, reason: "hard_bounce", source: provider });
    for (const t of [A, B]) assert.equal((await send(t, address)).status, "suppressed", `${provider}: tenant ${t}`);
  }
});

test("E10: a complaint suppresses for that tenant only; an event delivered twice is applied once", async () => {
  const address = "angry@example.com";
  const sent = await send(A, address);
  await email.drain({ maxMs: 10_000 });
  const complaint = { RecordType: "SpamComplaint", ID: 77, Type: "SpamComplaint", MessageID: randomUUID(), Email: address, BouncedAt: iso(), Metadata: { better_email_id: sent.id } };
  assert.deepEqual(await (await post("postmark", complaint)).json(), { received: 1, applied: 1 });
  assert.deepEqual(await (await post("postmark", complaint)).json(), { received: 1, applied: 0 }, "the redelivery is recognised");
  const events = await asSystem(pool, "SELECT count(*)::int AS n FROM email_events WHERE address_key = $1", [address]);
  assert.equal(events[0].n, 1);
  assert.deepEqual(await asSystem(pool, "SELECT tenant_id, reason FROM email_suppressions WHERE address = $1", [address]), [{ tenant_id: A, reason: "complaint" }]);
  assert.equal((await send(A, address)).status, "suppressed");
  assert.equal((await send(B, address)).status, "queued");
});

test("E10: three soft bounces within 7 days suppress the address for that tenant for 7 days", async () => {
  const address = "full-mailbox@example.com";
  const soft = (id) => [{ email: address, timestamp: now(), event: "bounce", type: "blocked", sg_event_id: randomBytes(12).toString("base64url"), better_email_id: id }];
  for (let i = 1; i <= 3; i++) {
    const sent = await send(A, address);
    assert.equal(sent.status, "queued", `send ${i}`);
    await email.drain({ maxMs: 10_000 });
    assert.deepEqual(await (await post("sendgrid", soft(sent.id))).json(), { received: 1, applied: 1 });
  }
  const [s] = await asSystem(pool, "SELECT tenant_id, reason, expires_at > now() + interval '6 days' AS week FROM email_suppressions WHERE address = $1", [address]);
  assert.deepEqual(s, { tenant_id: A, reason: "soft_bounce", week: true });
  assert.equal((await send(A, address)).status, "suppressed");
  assert.equal((await send(B, address)).status, "queued");
});

test("E10: an event that arrives before the hand-off still correlates by our id", async () => {
  const sent = await send(B, "early@example.com");
  const delivered = { type: "email.delivered", created_at: iso(), data: { email_id: randomUUID(), to: ["early@example.com"], tags: [{ name: "better_email_id", value: sent.id }] } };
  assert.deepEqual(await (await post("resend", delivered)).json(), { received: 1, applied: 1 });
  const [e] = await asSystem(pool, "SELECT tenant_id, message_id, type FROM email_events WHERE address_key = 'early@example.com'");
  assert.deepEqual(e, { tenant_id: B, message_id: core.webhookId("email", sent.id, false), type: "delivered" });
  await email.drain({ maxMs: 10_000 });
});

test("E10: bad signatures are 401 with their code, unknown providers 404, and nothing is applied", async () => {
  const before = (await asSystem(pool, "SELECT count(*)::int AS n FROM email_events"))[0].n;
  const payload = hardBounce.postmark("victim@example.com", null);
  const wrong = signed("postmark", payload);
  wrong.headers.authorization = `Basic ${Buffer.from("hooks:guess").toString("base64")}`;
  const r1 = await app.request("/email/events/postmark", wrong);
  assert.equal(r1.status, 401);
  assert.equal((await r1.json()).code, "EMAIL_EVENT_BAD_SIGNATURE");
  const tampered = signed("sendgrid", hardBounce.sendgrid("victim@example.com", null));
  tampered.body = tampered.body.replace("victim", "victin");
  assert.equal((await app.request("/email/events/sendgrid", tampered)).status, 401);
  const stale = signed("resend", hardBounce.resend("victim@example.com", null));
  stale.headers["svix-timestamp"] = String(now() - 3600);
  const r3 = await app.request("/email/events/resend", stale);
  assert.equal(r3.status, 401);
  assert.equal((await r3.json()).code, "EMAIL_EVENT_STALE");
  const foreignTopic = sns.message(2, { topic: "arn:aws:sns:us-east-1:123456789012:other" });
  const r4 = await app.request("/email/events/ses", { method: "POST", body: JSON.stringify(foreignTopic) });
  assert.equal((await r4.json()).code, "EMAIL_EVENT_TOPIC_REJECTED");
  const r5 = await app.request("/email/events/sparkpost", { method: "POST", body: "{}" });
  assert.equal(r5.status, 404);
  assert.equal((await r5.json()).code, "EMAIL_EVENT_UNKNOWN_PROVIDER");
  assert.equal((await asSystem(pool, "SELECT count(*)::int AS n FROM email_events"))[0].n, before);
  assert.deepEqual(await asSystem(pool, "SELECT address FROM email_suppressions WHERE address = 'victim@example.com'"), []);
});
