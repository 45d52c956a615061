// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Resend's batch endpoint against the loopback fake: a claim's messages of one tenant go in one
// `/emails/batch` request (permissive validation; the key derived from the sorted message ids),
// each answer maps back by position (its own provider id; one refused email fails alone);
// attachments and `batch: 1` go one by one; a lost answer is replayed once with the identical
// request, which the fake answers from its idempotency record; still unanswered, or left
// mid-request by a dead worker, the members are held whatever `onAmbiguous` says.
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
      assert.match(r.batch_id, /^batch_[0-9a-f]{64}$/);
    }
    const keys = new Set(fake.emails.map((m) => m.idempotencyKey));
    assert.equal(keys.size, 2, "one key per request");
    const mine = [...keys].find((k) => tagged(fake, a[0])[0].idempotencyKey === k);
    assert.equal(got.get(uuid(a[0])).batch_id, mine, "the stored batch id is the request's key");
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

test("still unanswered after the replay: held as ambiguous although onAmbiguous is \"retry\" and Resend is idempotent", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const events = [];
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url }), { onEvent: (ev) => events.push(ev) });
    const ids = await sendAll(e, randomUUID(), 3, "held");
    fake.dropNext();
    fake.dropNext();
    await e.drain({ maxMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    await e.drain({ maxMs: 10_000 });
    const got = await rows(ids);
    for (const id of ids) assert.deepEqual([got.get(uuid(id)).status, got.get(uuid(id)).last_outcome], ["ambiguous", "ambiguous"]);
    assert.equal(fake.requests, 2, "no third request, and none for a member alone");
    assert.equal(events.filter((ev) => ev.type === "message.ambiguous").length, 3);
  } finally {
    await fake.close();
  }
});

test("a worker that died during a batch request: the reaper holds its members; a message sent alone is queued again", async () => {
  // A transport that marks its batch, then never answers (the process "died" mid-request).
  let marked = 0;
  const hanging = {
    name: "hanging",
    kind: "resend",
    capabilities: { idempotency: true, batch: 10, rawMime: false, tags: true, edge: true },
    timeoutMs: 60_000,
    async send(batch, signal, mark) {
      if (batch.length > 1) {
        assert.equal(await mark(`batch_test_${batch.length}`), true);
        marked += batch.length;
      }
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("stopped"))));
    },
  };
  const e = email(hanging);
  const group = await sendAll(e, randomUUID(), 3, "dead");
  const alone = await sendAll(e, randomUUID(), 1, "solo");
  const drain = e.drain({ maxMs: 1_000, leaseMs: 100, timeoutMs: 1_500 });
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(marked, 3);
  // Another worker's reaper sees the leases expired while the first still "hangs".
  const reaper = email(hanging);
  await reaper.drain({ maxMs: 1, maxMessages: 0 });
  const got = await rows([...group, ...alone]);
  for (const id of group) assert.equal(got.get(uuid(id)).status, "ambiguous", "a batch member is held");
  assert.equal(got.get(uuid(alone[0])).status, "queued", "a lone message on an idempotent transport is sent again");
  await drain;
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
