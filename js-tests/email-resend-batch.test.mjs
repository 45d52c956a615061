// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Resend's batch endpoint against the loopback fake: a claim's messages of one tenant go in one
// `/emails/batch` request (permissive validation; the key derived from the sorted message ids),
// each answer maps back by position (its own provider id; one refused email fails alone);
// attachments and `batch: 1` go one by one; a lost answer is replayed once with the identical
// request, which the fake answers from its idempotency record; still unanswered, or left
// mid-request by a dead worker, the batch stays together and the identical request is made
// again later (the fake answers it from its record: each email once); an answer that settles
// only some members leaves the others held, since their batch can no longer be repeated.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { resend } from "@usebetterdev/email/resend";
import { fakeResend } from "@usebetterdev/email/testing";
import { FAST_RETRIES, testEmail } from "./helpers/email.mjs";
import { thrown } from "./helpers/errors.mjs";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";

const KEY = "re_test_key";
let db, pool;

const email = (transport, extra = {}) => testEmail(pool, transport, { ...FAST_RETRIES, ...extra });
const uuid = (id) => core.webhookId("email", id, false);
const rows = async (ids) =>
  new Map((await asSystem(pool, "SELECT id::text, status, last_outcome, provider_message_id, batch_id FROM email_messages WHERE id = ANY($1::uuid[])", [ids.map(uuid)])).map((r) => [r.id, r]));
const sendAll = async (e, tenant, n, tag, extra = {}) => {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push((await inTenant(pool, tenant, (c) => e.send({ to: `${tag}${i}@example.com`, subject: `${tag} ${i}`, text: "t", ...extra }, { tx: c }))).id);
  return ids;
};
/** The fake's batch requests' bodies are not kept, only the emails: the requests counter tells. */
const tagged = (fake, id) => fake.emails.filter((m) => m.body.tags.some((t) => t.name === "better_email_id" && t.value === id));

before(async () => {
  db = await webhooksDatabase("email_resend_batch");
  pool = db.pool;
  await pool.query(email(resend({ apiKey: KEY })).migrationSql(1));
});

after(async () => {
  await db?.drop();
});

test("one request per tenant's messages of a claim; each message gets its own provider id; one invalid email fails alone", async () => {
  const fake = await fakeResend({ apiKey: KEY, invalid: (m) => (m.to.includes("bad1@example.com") ? "Invalid `to` field" : null) });
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    const [t1, t2] = [randomUUID(), randomUUID()];
    const a = await sendAll(e, t1, 6, "good");
    const b = await sendAll(e, t2, 4, "bad");
    const { handed } = await e.drain({ maxMs: 10_000, concurrency: 16 });
    assert.equal(handed, 10);
    assert.equal(fake.requests, 2, "one batch request per tenant");
    const got = await rows([...a, ...b]);
    for (const id of [...a, ...b]) {
      const r = got.get(uuid(id));
      if (id === b[1]) {
        assert.deepEqual([r.status, r.last_outcome], ["failed", "rejected_permanent"]);
        assert.equal(tagged(fake, id).length, 0);
        continue;
      }
      const [sent] = tagged(fake, id);
      assert.ok(sent, `${id} reached the fake`);
      assert.deepEqual([r.status, r.provider_message_id], ["sent", sent.id], "the id Resend gave this very message");
      assert.equal(r.batch_id, null, "settled by its request: bound to that batch no more");
    }
    const keys = new Set(fake.emails.map((m) => m.idempotencyKey));
    assert.equal(keys.size, 2, "one key per request");
    const key = tagged(fake, a[0])[0].idempotencyKey;
    assert.deepEqual(new Set(a.map((id) => tagged(fake, id)[0].idempotencyKey)), new Set([key]), "one tenant's messages share the request's key");
  } finally {
    await fake.close();
  }
});

test("attachments and batch: 1 go one request each; batch must be 1 to 100", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const tenant = randomUUID();
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    const plain = await sendAll(e, tenant, 3, "p");
    const [attached] = await sendAll(e, tenant, 1, "att", { attachments: [{ filename: "a.txt", content: new Uint8Array([97]) }] });
    await e.drain({ maxMs: 10_000 });
    assert.equal(fake.requests, 2, "the three plain ones together, the attached one alone");
    assert.equal(tagged(fake, attached)[0].idempotencyKey, attached, "alone, under its own key");
    assert.equal(new Set(plain.map((id) => tagged(fake, id)[0].idempotencyKey)).size, 1);

    const single = email(resend({ apiKey: KEY, baseUrl: fake.url, batch: 1 }));
    await sendAll(single, tenant, 3, "s");
    const before = fake.requests;
    await single.drain({ maxMs: 10_000 });
    assert.equal(fake.requests - before, 3);
    for (const batch of [0, 101, 2.5, "10"]) {
      assert.equal(thrown(() => resend({ apiKey: KEY, batch })), "EMAIL_INVALID_CONFIG: resend(): invalid `batch`: an integer from 1 to 100 (messages per request)");
    }
  } finally {
    await fake.close();
  }
});

test("a lost answer: the identical request once more, answered from Resend's idempotency record; each email sent once", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    const ids = await sendAll(e, randomUUID(), 5, "lost");
    fake.dropNext();
    await e.drain({ maxMs: 10_000 });
    assert.equal(fake.requests, 2);
    assert.equal(fake.emails.length, 5, "the replay created nothing new");
    const got = await rows(ids);
    for (const id of ids) assert.deepEqual([got.get(uuid(id)).status, got.get(uuid(id)).provider_message_id], ["sent", tagged(fake, id)[0].id]);
  } finally {
    await fake.close();
  }
});

test("still unanswered after the replay: the batch stays together and its identical request is repeated later; each email sent once", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const events = [];
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }), { onEvent: (ev) => events.push(ev) });
    const ids = await sendAll(e, randomUUID(), 3, "held");
    fake.dropNext();
    fake.dropNext();
    await e.drain({ maxMs: 10_000, maxMessages: 3 });
    const waiting = await rows(ids);
    const keys = new Set(ids.map((id) => waiting.get(uuid(id)).batch_id));
    assert.equal(keys.size, 1, "one batch");
    assert.match([...keys][0], /^batch_[0-9a-f]{64}\/3$/, "the request's key and its member count");
    for (const id of ids) assert.deepEqual([waiting.get(uuid(id)).status, waiting.get(uuid(id)).last_outcome], ["queued", "ambiguous"]);
    assert.equal(fake.requests, 2);
    await new Promise((r) => setTimeout(r, 200));
    await e.drain({ maxMs: 10_000 });
    assert.equal(fake.requests, 3, "the identical request once more, the batch whole");
    assert.deepEqual([fake.replayed, fake.conflicts], [2, 0], "both repeats answered from the idempotency record");
    assert.equal(fake.emails.length, 3, "answered from the idempotency record: nothing sent twice");
    const got = await rows(ids);
    for (const id of ids) assert.deepEqual([got.get(uuid(id)).status, got.get(uuid(id)).provider_message_id], ["sent", tagged(fake, id)[0].id]);
    assert.equal(events.filter((ev) => ev.type === "message.ambiguous").length, 0, "nothing waited for an operator");
  } finally {
    await fake.close();
  }
});

test("an answer that accounts for some members only, twice: the others are held (their batch can no longer be repeated as it was)", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    const ids = await sendAll(e, randomUUID(), 3, "partial");
    const partial = { data: [{ id: "re_only_one" }] };
    fake.failNext(200, { body: partial });
    fake.failNext(200, { body: partial });
    await e.drain({ maxMs: 10_000, maxMessages: 3 });
    const got = await rows(ids);
    const sorted = [...ids].sort((x, y) => (uuid(x) < uuid(y) ? -1 : 1));
    assert.deepEqual([got.get(uuid(sorted[0])).status, got.get(uuid(sorted[0])).provider_message_id], ["sent", "re_only_one"], "the first in the request's (id) order");
    for (const id of sorted.slice(1)) assert.deepEqual([got.get(uuid(id)).status, got.get(uuid(id)).last_outcome], ["ambiguous", "ambiguous"]);
    await e.drain({ maxMs: 10_000 });
    assert.equal(fake.requests, 2, "no request for a subset of the batch");
  } finally {
    await fake.close();
  }
});

/** A Resend transport whose process "dies" once Resend has answered: the answer never reaches the database. */
function dyingResend(fake, sent) {
  const real = resend({ apiKey: KEY, baseUrl: fake.url, timeoutMs: 60_000 });
  return {
    ...real,
    async send(batch, signal, mark) {
      await real.send(batch, signal, mark);
      sent.push(batch.length);
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("stopped"))));
    },
  };
}

test("a worker that died during a batch request: the reaper queues the batch whole, and the next worker repeats the identical request (each email once); a lone message is queued again", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const sent = [];
    const dying = email(dyingResend(fake, sent));
    // What earlier tests left queued goes first, so that the claim below holds only these four.
    await email(resend({ apiKey: KEY, baseUrl: fake.url })).drain({ maxMs: 10_000 });
    const start = { requests: fake.requests, emails: fake.emails.length };
    const group = await sendAll(dying, randomUUID(), 3, "dead");
    const alone = await sendAll(dying, randomUUID(), 1, "solo");
    const drain = dying.drain({ maxMs: 1_000, leaseMs: 100, timeoutMs: 1_500 });
    while (sent.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(sent.sort(), [1, 3]);
    assert.equal(fake.emails.length - start.emails, 4, "the fake accepted all four");
    await new Promise((r) => setTimeout(r, 200));
    // Another worker's reaper sees the leases expired while the first still "hangs".
    const reaper = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    await reaper.drain({ maxMs: 1, maxMessages: 0 });
    const got = await rows([...group, ...alone]);
    const key = got.get(uuid(group[0])).batch_id;
    for (const id of group) assert.deepEqual([got.get(uuid(id)).status, got.get(uuid(id)).batch_id], ["queued", key], "a batch member waits, in its batch");
    assert.deepEqual([got.get(uuid(alone[0])).status, got.get(uuid(alone[0])).batch_id], ["queued", null], "a lone message on an idempotent transport is sent again");
    await drain;
    await reaper.drain({ maxMs: 10_000 });
    assert.equal(fake.requests - start.requests, 4, "two requests, each made twice");
    assert.equal(fake.emails.length - start.emails, 4, "no email accepted twice");
    assert.equal(fake.conflicts, 0, "each repeat was the identical request");
    const done = await rows([...group, ...alone]);
    for (const id of [...group, ...alone]) assert.deepEqual([done.get(uuid(id)).status, done.get(uuid(id)).provider_message_id], ["sent", tagged(fake, id)[0].id]);
  } finally {
    await fake.close();
  }
});

test("a batch to repeat whose member was suppressed meanwhile is held whole (its request would differ under the same key); nothing is sent", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const sent = [];
    const dying = email(dyingResend(fake, sent));
    await email(resend({ apiKey: KEY, baseUrl: fake.url })).drain({ maxMs: 10_000 });
    const group = await sendAll(dying, randomUUID(), 3, "bounced");
    const drain = dying.drain({ maxMs: 1_000, leaseMs: 100, timeoutMs: 1_500 });
    while (sent.length < 1) await new Promise((r) => setTimeout(r, 5));
    const requests = fake.requests;
    // A hard bounce for one member arrives before the batch is repeated.
    await asSystem(pool, "INSERT INTO email_suppressions (id, tenant_id, address, address_hash, reason) VALUES (gen_random_uuid(), NULL, 'bounced1@example.com', sha256(convert_to('bounced1@example.com', 'UTF8')), 'hard_bounce')");
    await new Promise((r) => setTimeout(r, 200));
    const next = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    await next.drain({ maxMs: 1, maxMessages: 0 });
    await drain;
    await next.drain({ maxMs: 10_000 });
    const got = await rows(group);
    for (const id of group) assert.deepEqual([got.get(uuid(id)).status, got.get(uuid(id)).last_outcome], ["ambiguous", "ambiguous"], id);
    assert.equal(fake.requests, requests, "no request for a changed batch");
  } finally {
    await fake.close();
  }
});

test("a batch Resend answered 503 for is regrouped freely: that answer settles that nothing was taken, so nothing binds its members", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    await e.drain({ maxMs: 10_000 });
    const ids = await sendAll(e, randomUUID(), 3, "throttled");
    fake.failNext(503);
    await e.drain({ maxMs: 10_000, maxMessages: 3 });
    const waiting = await rows(ids);
    for (const id of ids) assert.deepEqual([waiting.get(uuid(id)).status, waiting.get(uuid(id)).batch_id], ["queued", null], id);
    let got = await rows(ids);
    for (let i = 0; i < 50 && ids.some((id) => got.get(uuid(id)).status !== "sent"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      await e.drain({ maxMs: 10_000 });
      got = await rows(ids);
    }
    for (const id of ids) assert.equal(got.get(uuid(id)).status, "sent");
    assert.equal(fake.emails.filter((m) => ids.some((id) => tagged(fake, id).includes(m))).length, 3);
  } finally {
    await fake.close();
  }
});

test("a claim that needs more requests than the worker has slots gives the rest back untouched", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }));
    // What earlier tests left queued goes first, so that the claim below holds only these five.
    await e.drain({ maxMs: 10_000 });
    const before = fake.requests;
    // Attachments go one request each: five requests for two slots.
    const ids = await sendAll(e, randomUUID(), 5, "slot", { attachments: [{ filename: "a.txt", content: new Uint8Array([97]) }] });
    const { handed } = await e.drain({ maxMs: 10_000, concurrency: 2, maxMessages: 2 });
    assert.equal(handed, 2);
    assert.equal(fake.requests - before, 2);
    const got = await asSystem(pool, "SELECT status, attempt_count, lease_token, (SELECT count(*)::int FROM email_attempts a WHERE a.message_id = m.id) AS attempts FROM email_messages m WHERE id = ANY($1::uuid[])", [ids.map(uuid)]);
    const summary = got.map((r) => `${r.status}/${r.attempt_count}/${r.attempts}/${r.lease_token === null}`).sort();
    assert.deepEqual(summary, ["queued/0/0/true", "queued/0/0/true", "queued/0/0/true", "sent/1/1/true", "sent/1/1/true"]);
    await e.drain({ maxMs: 10_000, concurrency: 2 });
    for (const id of ids) assert.equal(tagged(fake, id).length, 1);
  } finally {
    await fake.close();
  }
});
