// Failover between transports (spec §8.5, E4 and E3's last clause) against two loopback fake
// Resends: a primary answering 503, 401 or refusing connections hands the message to the
// secondary within the same attempt, and the attempt rows show both; an ambiguous answer never
// moves the message (another provider could deliver it twice); five failures in a row skip the
// primary for coolOffMs (a fake clock), after which one message probes it. A transport refusing
// our credentials is heard by onEvent as `transport.down`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import core from "@usebetter-rs/core";
import { failover } from "@usebetterdev/email";
import { resend } from "@usebetterdev/email/resend";
import { fakeResend } from "@usebetterdev/email/testing";
import { thrown } from "./helpers/errors.mjs";
import { FAST_RETRIES, testEmail } from "./helpers/email.mjs";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
const KEY = "re_test_key";
let db, pool, a, b;

const email = (transport, extra = {}) => testEmail(pool, transport, { ...FAST_RETRIES, ...extra });

before(async () => {
  db = await webhooksDatabase("email_failover");
  pool = db.pool;
  [a, b] = await Promise.all([fakeResend({ apiKey: KEY }), fakeResend({ apiKey: KEY })]);
  await pool.query(email(resend({ apiKey: KEY })).migrationSql(1));
});

after(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await db?.drop();
});

const primary = (baseUrl = a.url) => resend({ apiKey: KEY, baseUrl, name: "primary", timeoutMs: 2000 });
const secondary = () => resend({ apiKey: KEY, baseUrl: b.url, name: "secondary", timeoutMs: 2000 });
const send = (e, to = "jane@example.com") => inTenant(pool, TENANT, (c) => e.send({ to, subject: "Hello", text: "plain" }, { tx: c }));
const dbId = (id) => core.webhookId("email", id, false);
const attempts = async (id) =>
  (await asSystem(pool, "SELECT transport, outcome, provider_status FROM email_attempts WHERE message_id = $1 ORDER BY started_at, attempt_number", [dbId(id)])).map(
    (r) => `${r.transport} ${r.outcome}${r.provider_status ? ` ${r.provider_status}` : ""}`,
  );
const message = async (id) => (await asSystem(pool, "SELECT status, transport FROM email_messages WHERE id = $1", [dbId(id)]))[0];
const got = (fake, id) => fake.emails.filter((m) => m.idempotencyKey === id).length;

async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

test("a primary answering 503, 401 or refusing connections: the secondary sends in the same attempt; the attempt rows show both", async () => {
  const heard = [];
  const e = email(failover([primary(), secondary()]), { onEvent: (ev) => heard.push(ev) });
  a.failNext(503);
  const unavailable = await send(e);
  await e.drain({ maxMs: 10_000 });
  a.failNext(401);
  const unauthorized = await send(e);
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(unavailable.id), ["primary retryable 503", "secondary sent 200"]);
  assert.deepEqual(await attempts(unauthorized.id), ["primary auth_failed 401", "secondary sent 200"]);
  assert.deepEqual(heard.map((ev) => [ev.type, ev.transport, ev.status]), [["transport.down", "primary", 401]], "the primary's refusal is heard though the secondary sent it");
  const refusing = email(failover([primary(`http://127.0.0.1:${await closedPort()}`), secondary()]));
  const refused = await send(refusing);
  await refusing.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(refused.id), ["primary retryable", "secondary sent 200"]);
  for (const m of [unavailable, unauthorized, refused]) {
    assert.deepEqual(await message(m.id), { status: "sent", transport: "secondary" }, "the transport that accepted is recorded");
    assert.equal(got(b, m.id), 1);
    assert.equal(got(a, m.id), 0);
  }
  // A message the primary takes stays there.
  const fine = await send(e);
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(fine.id), ["primary sent 200"]);
  assert.deepEqual(await message(fine.id), { status: "sent", transport: "primary" });
});

test("after an ambiguous answer the message stays on its transport: retried there with the same key, never sent by the secondary", async () => {
  const e = email(failover([primary(), secondary()]));
  const before = b.requests;
  a.dropNext();
  const m = await send(e);
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(m.id), ["primary ambiguous"]);
  await new Promise((r) => setTimeout(r, 100));
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(m.id), ["primary ambiguous", "primary sent 200"]);
  assert.equal(b.requests, before, "the secondary never saw it");
  assert.equal(got(a, m.id), 1, "the primary sent it once (its Idempotency-Key)");
  assert.deepEqual(await message(m.id), { status: "sent", transport: "primary" });
});

test("a message once ambiguous stays pinned to its transport: a later 503 there, or an open breaker, does not move it to the secondary", async () => {
  let clock = 5_000_000;
  const e = email(failover([primary(), secondary()], { now: () => clock, breaker: { failures: 1, coolOffMs: 60_000 } }));
  const before = b.requests;
  a.dropNext();
  const m = await send(e);
  await e.drain({ maxMs: 10_000 });
  // The drop opened the breaker (one failure is the limit here); the pin ignores it.
  a.failNext(503);
  await new Promise((r) => setTimeout(r, 100));
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(m.id), ["primary ambiguous", "primary retryable 503"]);
  await new Promise((r) => setTimeout(r, 100));
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(m.id), ["primary ambiguous", "primary retryable 503", "primary sent 200"]);
  assert.equal(b.requests, before, "the secondary never saw it");
  assert.equal(got(a, m.id), 1);
});

test("a nested failover's earlier tries are kept: each member that did not take the message has its attempt row", async () => {
  const third = resend({ apiKey: KEY, baseUrl: `http://127.0.0.1:${await closedPort()}`, name: "third", timeoutMs: 2000 });
  const e = email(failover([failover([primary(), secondary()], { name: "inner", breaker: false }), third], { breaker: false }));
  a.failNext(503);
  const m = await send(e);
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await attempts(m.id), ["primary retryable 503", "secondary sent 200"]);
  assert.deepEqual(await message(m.id), { status: "sent", transport: "secondary" });
});

test("a worker that dies mid hand-off is judged by the transport then in use, not by the one that answered before", async () => {
  // Attempt 1: the spy (not idempotent) fails, the secondary (idempotent) too: the message
  // records `secondary`. Attempt 2 starts on the spy; the worker "dies" there (its lease runs out
  // and another worker reaps). A retry could then reach a second provider: it must be held.
  let seen;
  const spy = {
    name: "spy",
    kind: "smtp",
    capabilities: { idempotency: false, batch: 1, rawMime: true, tags: false, edge: false },
    timeoutMs: 2000,
    async send(batch) {
      const [m] = batch;
      if (m.attempt === 1) return [{ outcome: "retryable", detail: "try later" }];
      seen = (await message(m.id)).transport;
      await asSystem(pool, "UPDATE email_messages SET lease_until = now() - interval '1 second' WHERE id = $1", [dbId(m.id)]);
      await other.drain({ maxMs: 5_000 });
      return [{ outcome: "sent" }];
    },
  };
  const heard = [];
  const e = email(failover([spy, secondary()], { breaker: false }), { onAmbiguous: "hold" });
  const other = email(failover([spy, secondary()], { breaker: false }), { onAmbiguous: "hold", onEvent: (ev) => heard.push(ev) });
  b.failNext(503);
  const m = await send(e);
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(await message(m.id), { status: "queued", transport: "secondary" });
  await new Promise((r) => setTimeout(r, 100));
  await e.drain({ maxMs: 10_000 });
  assert.equal(seen, null, "the claim cleared the previous attempt's transport");
  assert.equal((await message(m.id)).status, "ambiguous", "held for an operator; the dead worker's late answer was fenced off");
  assert.deepEqual(heard.map((ev) => [ev.type, ev.id]), [["message.ambiguous", m.id]]);
});

test("breaker: five failures in a row skip the primary for coolOffMs; then one message probes it; a failed probe skips it again", async () => {
  let clock = 1_000_000;
  const e = email(failover([primary(), secondary()], { now: () => clock, breaker: { failures: 5, coolOffMs: 60_000 } }));
  const round = async (n) => {
    const [ra, rb] = [a.requests, b.requests];
    const sent = [];
    for (let i = 0; i < n; i++) sent.push(await send(e, `user${i}@example.com`));
    await e.drain({ maxMs: 10_000 });
    for (const m of sent) assert.equal((await message(m.id)).status, "sent");
    return { toA: a.requests - ra, toB: b.requests - rb, sent };
  };
  for (let i = 0; i < 5; i++) a.failNext(503);
  assert.deepEqual(await round(5).then(({ toA, toB }) => [toA, toB]), [5, 5], "each failed on the primary, then went to the secondary");
  assert.deepEqual(await round(3).then(({ toA, toB }) => [toA, toB]), [0, 3], "the open breaker skips the primary");
  clock += 59_000;
  assert.deepEqual(await round(2).then(({ toA, toB }) => [toA, toB]), [0, 2], "still cooling off");
  clock += 1_001;
  a.failNext(503);
  assert.deepEqual(await round(4).then(({ toA, toB }) => [toA, toB]), [1, 4], "one probe, which failed: the others went to the secondary");
  assert.deepEqual(await round(2).then(({ toA, toB }) => [toA, toB]), [0, 2], "the failed probe opened it again");
  clock += 60_001;
  const probed = await round(1);
  assert.deepEqual([probed.toA, probed.toB], [1, 0], "the probe succeeded");
  assert.deepEqual(await round(3).then(({ toA, toB }) => [toA, toB]), [3, 0], "closed again: the primary takes every message");
});

test("bad failover options are refused by name", () => {
  assert.match(thrown(() => failover([primary()])), /^EMAIL_INVALID_CONFIG: .*`failover\.transports`/);
  assert.match(thrown(() => failover([primary(), primary()])), /named "primary"/);
  assert.match(thrown(() => failover([primary(), {}])), /`failover\.transports\[1\]`/);
  assert.match(thrown(() => failover([primary(), secondary()], { advanceOn: ["nope"] })), /`failover\.advanceOn`/);
  assert.match(thrown(() => failover([primary(), secondary()], { advanceOn: ["sent"] })), /`failover\.advanceOn`/, "a sent message never goes on");
  assert.match(thrown(() => failover([primary(), secondary()], { onAmbiguous: "maybe" })), /`failover\.onAmbiguous`/);
  assert.match(thrown(() => failover([primary(), secondary()], { breaker: { failures: 0 } })), /`failover\.breaker\.failures`/);
});

test("a transport answering 401 is heard as transport.down, rests 60 s, then is tried again", async () => {
  const heard = [];
  const e = email(primary(), { onEvent: (ev) => heard.push(ev) });
  a.failNext(401);
  const m = await send(e);
  await e.drain({ maxMs: 10_000 });
  assert.deepEqual(heard.map((ev) => [ev.type, ev.transport, ev.status]), [["transport.down", "primary", 401]]);
  assert.deepEqual(await attempts(m.id), ["primary auth_failed 401"]);
  await new Promise((r) => setTimeout(r, 100));
  // Due again by the retry schedule, but the transport is paused: no request, no attempt.
  assert.deepEqual(await e.drain({ maxMs: 10_000 }), { handed: 0 });
  assert.deepEqual(await attempts(m.id), ["primary auth_failed 401"]);
  // A minute later (the due time moved here, as a worker started after the pause would find it).
  await asSystem(pool, "UPDATE email_messages SET next_attempt_at = now() WHERE id = $1", [dbId(m.id)]);
  await email(primary()).drain({ maxMs: 10_000 });
  assert.equal((await message(m.id)).status, "sent", "retried");
  assert.throws(() => email(primary(), { onEvent: 42 }), (err) => err.code === "EMAIL_INVALID_CONFIG" && /`onEvent`/.test(err.message));
});
