// Retries and expiry (spec §9.3, E5) with the default schedule, on a clock moved forward by
// moving the messages' own times back (`next_attempt_at`, `expires_at`): the claim compares
// them with the database's now(), so this is the same as waiting. Each retry waits its
// schedule's delay ±20% (0, 30 s, 2 min, 10 min, …, then `failed`); a throttled answer waits at
// least its Retry-After; a permanent refusal fails at once; a transactional message still
// undelivered after 24 h is `expired` and never handed off afterwards.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { captureTransport } from "@usebetterdev/email/testing";
import { testEmail } from "./helpers/email.mjs";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
const DEFAULT_SCHEDULE_S = [0, 30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800];
let db, pool;

const email = (transport, extra = {}) => testEmail(pool, transport, extra);

before(async () => {
  db = await webhooksDatabase("email_retry");
  pool = db.pool;
  await pool.query(email(captureTransport()).migrationSql(1));
});

after(async () => {
  await db?.drop();
});

const uuid = (id) => core.webhookId("email", id, false);
const send = (e, to) => inTenant(pool, TENANT, (c) => e.send({ to, subject: "Your code", text: "123456" }, { tx: c }));
const row = async (id) =>
  (
    await asSystem(
      pool,
      `SELECT status, last_outcome, attempt_count,
              extract(epoch FROM next_attempt_at - (SELECT max(a.started_at + make_interval(secs => a.duration_ms / 1000.0)) FROM email_attempts a WHERE a.message_id = m.id)) * 1000 AS wait_ms,
              extract(epoch FROM expires_at - created_at) AS expires_after_s
       FROM email_messages m WHERE id = $1`,
      [uuid(id)],
    )
  )[0];
/** Moves the clock forward by `ms` for these messages: their due and expiry times come nearer. */
const advance = (ids, ms) =>
  asSystem(
    pool,
    "UPDATE email_messages SET next_attempt_at = next_attempt_at - make_interval(secs => $2 / 1000.0), expires_at = expires_at - make_interval(secs => $2 / 1000.0) WHERE id = ANY($1::uuid[])",
    [ids.map(uuid), ms],
  );

test("E5: each retry waits the default schedule's delay ±20% (jittered), and after the last one the message fails", async () => {
  const t = captureTransport();
  const e = email(t);
  // Twelve messages, each refused at every attempt: every delay of the schedule, twelve times.
  const ids = [];
  for (let i = 0; i < 12; i++) ids.push((await send(e, `u${i}@example.com`)).id);
  const waits = DEFAULT_SCHEDULE_S.slice(1).map(() => []);
  for (let n = 1; n <= DEFAULT_SCHEDULE_S.length; n++) {
    for (let i = 0; i < ids.length; i++) t.failNext("retryable", { detail: "451 try later" });
    assert.equal((await e.drain({ maxMs: 10_000 })).handed, ids.length, `attempt ${n} of every message is due`);
    // Nothing is due before its time.
    assert.equal((await e.drain({ maxMs: 10_000 })).handed, 0);
    for (const id of ids) {
      const r = await row(id);
      assert.equal(r.attempt_count, n);
      if (n === DEFAULT_SCHEDULE_S.length) {
        assert.deepEqual([r.status, r.last_outcome], ["failed", "retryable"], "past the schedule the message fails");
        continue;
      }
      assert.equal(r.status, "queued");
      waits[n - 1].push(Number(r.wait_ms));
    }
    if (n < DEFAULT_SCHEDULE_S.length) await advance(ids, DEFAULT_SCHEDULE_S[n] * 1000 * 1.2 + 1000);
  }
  for (const [k, ws] of waits.entries()) {
    const base = DEFAULT_SCHEDULE_S[k + 1] * 1000;
    for (const w of ws) assert.ok(w >= base * 0.8 - 50 && w <= base * 1.2 + 50, `retry ${k + 1}: waited ${w} ms, schedule ${base} ms ±20%`);
    assert.ok(new Set(ws.map((w) => Math.round(w / 10))).size > 1, `retry ${k + 1}: the delays are jittered, not all ${ws[0]} ms`);
  }
  assert.equal(t.sent().length, 0);
});

test("E5: a throttled answer waits at least its Retry-After (90 s); a permanent refusal fails at once", async () => {
  const t = captureTransport();
  const e = email(t);
  const throttled = await send(e, "slow@example.com");
  t.failNext("throttled", { status: 429, retryAfterMs: 90_000 });
  await e.drain({ maxMs: 10_000 });
  const r = await row(throttled.id);
  assert.equal(r.status, "queued");
  assert.ok(Number(r.wait_ms) >= 90_000, `waited ${r.wait_ms} ms`);
  await advance([throttled.id], 89_000);
  assert.equal((await e.drain({ maxMs: 10_000 })).handed, 0, "not due a second early");
  await advance([throttled.id], 2_000);
  await e.drain({ maxMs: 10_000 });
  assert.equal((await row(throttled.id)).status, "sent");

  const refused = await send(e, "bad@example.com");
  t.failNext("rejected_permanent", { status: 422, detail: "invalid `to`" });
  await e.drain({ maxMs: 10_000 });
  const f = await row(refused.id);
  assert.deepEqual([f.status, f.attempt_count], ["failed", 1]);
});

test("E5: a transactional message undeliverable for 24 h is expired, and never handed off afterwards", async () => {
  const t = captureTransport();
  const e = email(t);
  const m = await send(e, "otp@example.com");
  const after = Number((await row(m.id)).expires_after_s);
  assert.ok(Math.abs(after - 86_400) < 1, `transactional mail expires after 24 h by default (${after} s)`);
  for (let n = 1; n <= 3; n++) {
    t.failNext("retryable", { detail: "421 busy" });
    await e.drain({ maxMs: 10_000 });
    await advance([m.id], DEFAULT_SCHEDULE_S[n] * 1000 * 1.2 + 1000);
  }
  // The clock reaches the 24th hour with the message still queued.
  await advance([m.id], 86_400_000);
  assert.equal((await e.drain({ maxMs: 10_000 })).handed, 0);
  const r = await row(m.id);
  assert.deepEqual([r.status, r.last_outcome, r.attempt_count], ["expired", "expired", 3]);
  await advance([m.id], 86_400_000);
  await e.drain({ maxMs: 10_000 });
  assert.equal(t.sent().length, 0, "never handed off after it expired");
  assert.equal((await row(m.id)).status, "expired");
});
