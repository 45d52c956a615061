// A transport's rate (spec §12, E15's first clause): `maxPerSecond` is one bucket row in
// PostgreSQL that every worker's claim takes its grants from, so three workers together never
// hand the fake Resend more than that many requests in any 1-second window (measured where the
// requests arrive), each grant carrying one request (a batch of messages with batching on).
// `drain()` waits for the next grant rather than stopping. Per-tenant rates (E15's second
// clause) keep one tenant's bulk send from delaying another's mail, and a sending domain's
// warm-up caps its daily volume (E15's last clause).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import emailCore from "@usebetter-rs/core/email-binding";
import { failover } from "@usebetterdev/email";
import { resend } from "@usebetterdev/email/resend";
import { fakeResend } from "@usebetterdev/email/testing";
import { thrown } from "./helpers/errors.mjs";
import { testEmail } from "./helpers/email.mjs";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
const KEY = "re_test_key";
let db, pool;

const email = (transport, extra = {}) => testEmail(pool, transport, extra);

before(async () => {
  db = await webhooksDatabase("email_ratelimit");
  pool = db.pool;
  await pool.query(email(resend({ apiKey: KEY })).migrationSql(1));
});

after(async () => {
  await db?.drop();
});

const sendAll = async (e, n, tag) => {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push((await inTenant(pool, TENANT, (c) => e.send({ to: `${tag}${i}@example.com`, subject: "Hi", text: "t" }, { tx: c }))).id);
  return ids;
};

/** The most requests that arrived within any window of `ms` (each window starting at a request). */
function busiest(times, ms) {
  let most = 0;
  for (let i = 0; i < times.length; i++) {
    let n = 0;
    for (let j = i; j < times.length && times[j] - times[i] < ms; j++) n++;
    most = Math.max(most, n);
  }
  return most;
}

test("maxPerSecond: 2 with three workers: the fake never sees more than 2 requests in any 1-second window, and every message is sent", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const transport = () => resend({ apiKey: KEY, baseUrl: fake.url, maxPerSecond: 2, name: "limited", batch: 1 });
    const workers = [email(transport()), email(transport()), email(transport())].map((e) => e.createWorker({ pollIntervalMs: 20, concurrency: 8 }));
    const sender = email(transport());
    const ids = await sendAll(sender, 9, "w");
    await Promise.all(workers.map((w) => w.start()));
    const deadline = Date.now() + 15_000;
    while (fake.emails.length < 9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(workers.map((w) => w.stop()));
    assert.equal(fake.emails.length, 9, "every message was handed off");
    const times = [...fake.requestTimes].sort((a, b) => a - b);
    assert.equal(busiest(times, 1000), 2, `arrivals (ms): ${times.map((t) => Math.round(t - times[0])).join(", ")}`);
    // Nine requests at two per second need at least four seconds: the limit really held them.
    assert.ok(times.at(-1) - times[0] >= 4000, `nine requests spread over ${Math.round(times.at(-1) - times[0])} ms`);
    const rows = await asSystem(pool, "SELECT count(*)::int AS n FROM email_messages WHERE status = 'sent' AND id = ANY($1::uuid[])", [ids.map((id) => core.webhookId("email", id, false))]);
    assert.equal(rows[0].n, 9);
  } finally {
    await fake.close();
  }
});

test("maxPerSecond with batching: each grant carries one batch request, so 2 per second still holds and 20 messages take 4 requests", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const transport = () => resend({ apiKey: KEY, baseUrl: fake.url, maxPerSecond: 2, name: "batched", batch: 5 });
    const workers = [email(transport()), email(transport())].map((e) => e.createWorker({ pollIntervalMs: 20, concurrency: 8 }));
    const ids = await sendAll(email(transport()), 20, "b");
    await Promise.all(workers.map((w) => w.start()));
    const deadline = Date.now() + 15_000;
    while (fake.emails.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(workers.map((w) => w.stop()));
    assert.equal(fake.emails.length, 20);
    assert.equal(fake.requests, 4, "five messages per request");
    const times = [...fake.requestTimes].sort((a, b) => a - b);
    assert.equal(busiest(times, 1000), 2, `arrivals (ms): ${times.map((t) => Math.round(t - times[0])).join(", ")}`);
    const rows = await asSystem(pool, "SELECT count(*)::int AS n FROM email_messages WHERE status = 'sent' AND id = ANY($1::uuid[])", [ids.map((id) => core.webhookId("email", id, false))]);
    assert.equal(rows[0].n, 20);
  } finally {
    await fake.close();
  }
});

test("drain() waits for the next grant while mail is due, within maxMs", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url, maxPerSecond: 4, name: "drained", batch: 1 }));
    await sendAll(e, 4, "d");
    const started = Date.now();
    const { handed } = await e.drain({ maxMs: 10_000 });
    assert.equal(handed, 4);
    assert.equal(fake.emails.length, 4);
    assert.ok(Date.now() - started >= 700, "four grants at four per second take three spacings");
    assert.ok(Date.now() - started < 5_000, "it did not wait out maxMs");
    // Nothing due: drain returns at once, not after maxMs.
    const idle = Date.now();
    assert.deepEqual(await e.drain({ maxMs: 10_000 }), { handed: 0 });
    assert.ok(Date.now() - idle < 2_000);
  } finally {
    await fake.close();
  }
});

/** Sent and queued counts of `tenant`'s messages. */
async function states(tenant) {
  const rows = await asSystem(pool, "SELECT status, count(*)::int AS n FROM email_messages WHERE tenant_id = $1 GROUP BY status", [tenant]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

test("perMinute: 10: tenant A's 100 mails go out 10 at once and the rest stay queued, while tenant B's 10 are not delayed (p95 queue time < 1 s); a tenant's own limit in email_tenant_settings wins (0 holds its mail)", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  const [A, B, C, D] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  try {
    const cfg = { rateLimits: { perTenant: { perMinute: 10, perDay: 1000 } } };
    const transport = () => resend({ apiKey: KEY, baseUrl: fake.url, name: "fair", batch: 1 });
    await asSystem(pool, "INSERT INTO email_tenant_settings (tenant_id, limits) VALUES ($1, $2), ($3, $4)", [C, { perMinute: 3 }, D, { perMinute: 0 }]);
    const workers = [email(transport(), cfg), email(transport(), cfg)].map((e) => e.createWorker({ pollIntervalMs: 20, concurrency: 8 }));
    await Promise.all(workers.map((w) => w.start()));
    const sender = email(transport(), cfg);
    const started = Date.now();
    const bulk = (tag, n) => Array.from({ length: n }, (_, i) => ({ to: `${tag}${i}@example.com`, subject: "Bulk", text: "t" }));
    // D's own limit of 0 holds its mail: queued first, it must not stand in anyone's way.
    await inTenant(pool, D, (c) => sender.sendMany(bulk("d", 100), { tx: c }));
    await inTenant(pool, A, (c) => sender.sendMany(bulk("a", 100), { tx: c }));
    await inTenant(pool, C, (c) => sender.sendMany(bulk("c", 6), { tx: c }));
    for (let i = 0; i < 10; i++) {
      await inTenant(pool, B, (c) => sender.send({ to: `b${i}@example.com`, subject: "Reset", text: "t" }, { tx: c }));
      await new Promise((r) => setTimeout(r, 30));
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const [a, b, c] = [await states(A), await states(B), await states(C)];
      if (b.sent === 10 && a.sent >= 10 && c.sent >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Long enough for a claim past the limit to show.
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all(workers.map((w) => w.stop()));
    const elapsed = Date.now() - started;
    const [a, b, c] = [await states(A), await states(B), await states(C)];
    assert.equal(b.sent, 10, JSON.stringify(b));
    // A token comes back every 6 s (10 a minute) and every 20 s for C (3 a minute).
    assert.ok(a.sent >= 10 && a.sent <= 10 + Math.floor(elapsed / 6000), `A sent ${a.sent} in ${elapsed} ms`);
    assert.equal(a.sent + a.queued, 100, JSON.stringify(a));
    assert.ok(c.sent >= 3 && c.sent <= 3 + Math.floor(elapsed / 20_000), `C sent ${c.sent} in ${elapsed} ms`);
    assert.equal(c.sent + c.queued, 6, JSON.stringify(c));
    assert.deepEqual(await states(D), { queued: 100 });
    assert.equal(fake.emails.length, a.sent + b.sent + c.sent);
    // The tenants over their limit wait out of the queue's way: A's rest due a token interval
    // (6 s) apart, D's held mail looked at again in an hour.
    const due = async (t) =>
      (await asSystem(pool, "SELECT round(extract(epoch FROM next_attempt_at - now()))::int AS s FROM email_messages WHERE tenant_id = $1 AND status = 'queued' ORDER BY 1", [t])).map((r) => r.s);
    const aDue = await due(A);
    assert.ok(aDue[0] >= 1 && aDue[0] <= 6, `A's next in ${aDue[0]} s`);
    assert.ok(aDue.at(-1) >= 6 * (aDue.length - 1) - elapsed / 1000 - 6, `A's last in ${aDue.at(-1)} s for ${aDue.length} waiting`);
    assert.ok((await due(D)).every((s) => s > 3_500 && s <= 3_600), "D's held mail is looked at again in an hour");
    // D's limit lifted: an hour later (the clock moved by hand) its mail goes, 5 of it.
    await asSystem(pool, "UPDATE email_tenant_settings SET limits = '{\"perMinute\": 5}' WHERE tenant_id = $1", [D]);
    await asSystem(pool, "UPDATE email_messages SET next_attempt_at = now() WHERE tenant_id = $1 AND status = 'queued'", [D]);
    await asSystem(pool, "UPDATE email_rate_buckets SET updated_at = updated_at - interval '61 seconds' WHERE key LIKE 'tenant:' || $1 || ':%'", [D]);
    assert.ok((await sender.drain({ maxMs: 10_000 })).handed >= 5);
    assert.deepEqual(await states(D), { sent: 5, queued: 95 });
    const waits = (
      await asSystem(
        pool,
        "SELECT extract(epoch FROM a.started_at - m.created_at) * 1000 AS ms FROM email_messages m JOIN email_attempts a ON a.message_id = m.id WHERE m.tenant_id = $1 ORDER BY 1",
        [B],
      )
    ).map((r) => Number(r.ms));
    assert.equal(waits.length, 10);
    const p95 = waits[Math.ceil(waits.length * 0.95) - 1];
    assert.ok(p95 < 1000, `B's queue times (ms): ${waits.map(Math.round).join(", ")}`);
  } finally {
    await fake.close();
  }
});

test("warm-up of 50 a day ×1.5: a domain sends 50 on day 0 and 75 on day 1 (the first send moved a day back), 112 on day 2; other domains are not held", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  const tenant = randomUUID();
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url, name: "warm" }), { warmup: [{ domain: "warm.acme.example", startPerDay: 50, factor: 1.5, maxPerDay: 1000 }] });
    const warm = Array.from({ length: 130 }, (_, i) => ({ from: "News <news@Warm.Acme.Example>", to: `w${i}@example.com`, subject: "Hi", text: "t" }));
    await inTenant(pool, tenant, (c) => e.sendMany(warm, { tx: c }));
    await inTenant(pool, tenant, (c) => e.send({ to: "cold@example.com", subject: "Hi", text: "t" }, { tx: c }));
    const fromWarm = async (status) =>
      (await asSystem(pool, "SELECT count(*)::int AS n FROM email_messages WHERE tenant_id = $1 AND from_addr ILIKE '%@warm.acme.example' AND status = $2", [tenant, status]))[0].n;
    assert.deepEqual(await e.drain({ maxMs: 10_000 }), { handed: 51 });
    assert.equal(await fromWarm("sent"), 50);
    assert.equal((await states(tenant)).sent, 51, "the other domain's mail went too");
    assert.deepEqual(await e.drain({ maxMs: 10_000 }), { handed: 0 }, "the day's cap is spent");
    // The rest waits for the next UTC day, out of the queue's way.
    const waiting = await asSystem(pool, "SELECT count(*)::int AS n FROM email_messages WHERE tenant_id = $1 AND status = 'queued' AND next_attempt_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 day'", [tenant]);
    assert.equal(waiting[0].n, 80);
    // A day passes (by hand): the first send was a day earlier, and what waited for today is due.
    const yesterday = async () => {
      await asSystem(pool, "UPDATE email_messages SET next_attempt_at = now() WHERE tenant_id = $1 AND status = 'queued'", [tenant]);
      return asSystem(pool, "UPDATE email_rate_buckets SET updated_at = updated_at - interval '1 day' WHERE key = 'warmup:warm.acme.example' RETURNING key");
    };
    assert.equal((await yesterday()).length, 1);
    assert.deepEqual(await e.drain({ maxMs: 10_000 }), { handed: 75 });
    assert.equal(await fromWarm("sent"), 125);
    assert.equal(await fromWarm("queued"), 5);
    await yesterday();
    assert.deepEqual(await e.drain({ maxMs: 10_000 }), { handed: 5 });
    assert.equal(fake.emails.length, 131);
  } finally {
    await fake.close();
  }
});

test("rates this version cannot enforce, and bad values, are refused by name; a failover takes its members' lowest rate", () => {
  for (const bad of [0, -1, Number.NaN, "2", 1e9]) {
    assert.match(thrown(() => resend({ apiKey: KEY, maxPerSecond: bad })), /^EMAIL_INVALID_CONFIG: resend\(\): invalid `maxPerSecond`/);
  }
  const routed = () =>
    email(undefined, {
      transports: { a: resend({ apiKey: KEY, name: "a", maxPerSecond: 2 }), b: resend({ apiKey: KEY, name: "b" }) },
      route: () => "a",
    });
  assert.match(thrown(routed), /^EMAIL_INVALID_CONFIG: invalid `transports`: `maxPerSecond`/);
  const f = failover([resend({ apiKey: KEY, name: "p", maxPerSecond: 5 }), resend({ apiKey: KEY, name: "s", maxPerSecond: 2 })]);
  assert.equal(f.maxPerSecond, 2);
  assert.equal(failover([resend({ apiKey: KEY, name: "p" }), resend({ apiKey: KEY, name: "s" })]).maxPerSecond, undefined);
  assert.equal(failover([resend({ apiKey: KEY, name: "p", maxPerSecond: 5 }), resend({ apiKey: KEY, name: "s" })], { maxPerSecond: 3 }).maxPerSecond, 3);
});

test("a held tenant's backlog is moved after the claim, at most 500 messages per statement, and each waiting message keeps its turn across the pieces", async () => {
  const fake = await fakeResend({ apiKey: KEY });
  const [H, P, B] = [randomUUID(), randomUUID(), randomUUID()];
  // Every UPDATE of email_messages logs how many queued messages it moved later.
  await pool.query("CREATE TABLE moved_log (n int NOT NULL)");
  await pool.query(`CREATE FUNCTION log_moved() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      INSERT INTO moved_log SELECT count(*) FROM new_rows n JOIN old_rows o ON o.created_at = n.created_at AND o.id = n.id
        WHERE n.status = 'queued' AND n.next_attempt_at > o.next_attempt_at;
      RETURN NULL; END $$`);
  await pool.query("CREATE TRIGGER log_moved AFTER UPDATE ON email_messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION log_moved()");
  try {
    const e = email(resend({ apiKey: KEY, baseUrl: fake.url, name: "pieces" }), { rateLimits: { perTenant: { perMinute: 10 } } });
    await asSystem(pool, "INSERT INTO email_tenant_settings (tenant_id, limits) VALUES ($1, $2)", [H, { perMinute: 0 }]);
    const bulk = (tag, n) => Array.from({ length: n }, (_, i) => ({ to: `${tag}${i}@example.com`, subject: "Bulk", text: "t" }));
    for (let i = 0; i < 6; i++) await inTenant(pool, H, (c) => e.sendMany(bulk(`h${i}-`, 500), { tx: c }));
    for (let i = 0; i < 3; i++) await inTenant(pool, P, (c) => e.sendMany(bulk(`p${i}-`, 400), { tx: c }));
    await inTenant(pool, B, (c) => e.sendMany(bulk("b", 5), { tx: c }));
    await e.drain({ maxMs: 20_000 });
    assert.deepEqual(await states(B), { sent: 5 });
    assert.deepEqual(await states(H), { queued: 3000 });
    assert.deepEqual(await states(P), { sent: 10, queued: 1190 });
    const pieces = (await pool.query("SELECT n FROM moved_log WHERE n > 0")).rows.map((r) => r.n);
    assert.ok(Math.max(...pieces) <= 500, `moved per statement: ${pieces.join(", ")}`);
    assert.equal(pieces.reduce((a, b) => a + b, 0), 3000 + 1190, `moved per statement: ${pieces.join(", ")}`);
    const due = async (t) =>
      (await asSystem(pool, "SELECT extract(epoch FROM next_attempt_at - now())::float8 AS s FROM email_messages WHERE tenant_id = $1 AND status = 'queued' ORDER BY 1", [t])).map((r) => r.s);
    assert.ok((await due(H)).every((s) => s > 3_500 && s <= 3_600), "H's held mail is looked at again in an hour");
    // P's k-th waiting message is due k token intervals (6 s) ahead, the pieces numbering on.
    const p = await due(P);
    assert.ok(p[0] > 0 && p[0] <= 6, `P's first in ${p[0]} s`);
    const gaps = p.slice(1).map((s, i) => s - p[i]);
    assert.ok(gaps.every((g) => g > 5.5 && g < 6.5), `P's gaps: ${gaps.filter((g) => g <= 5.5 || g >= 6.5).slice(0, 5).join(", ")}`);
  } finally {
    await pool.query("DROP TRIGGER log_moved ON email_messages; DROP FUNCTION log_moved(); DROP TABLE moved_log");
    await fake.close();
  }
});

test("a tenant whose deferral is under way is not reported held again until its pieces end, so its turns are numbered once", async () => {
  const T = randomUUID();
  const rates = { rateLimits: { perTenant: { perMinute: 3 } } };
  const e = email(resend({ apiKey: KEY, name: "marks" }), rates);
  await inTenant(pool, T, (c) => e.sendMany(Array.from({ length: 40 }, (_, i) => ({ to: `m${i}@example.com`, subject: "Hi", text: "t" })), { tx: c }));
  // The core's statements, run by hand as a worker runs them (claims of 4, at most 4 per tenant).
  const st = new emailCore.Email({ from: "Acme <hello@acme.example>", unsubscribe: { baseUrl: "https://app.acme.example/email/u" }, secretsKey: randomBytes(32).toString("base64"), transports: ["marks"], templates: {}, ...rates }).statements();
  const inTx = async (scope, fn) => {
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      await c.query(st[scope].sql);
      const out = await fn(c);
      await c.query("COMMIT");
      return out;
    } finally {
      c.release();
    }
  };
  const claim = () => inTx("claimScope", async (c) => (await c.query(st.claim.sql, [4, 4, 60_000, "w", null, null])).rows);
  const held = (rows) => (rows[0]?.held ? JSON.parse(rows[0].held) : []);
  const refill = () => asSystem(pool, "UPDATE email_rate_buckets SET tokens = capacity WHERE key LIKE 'tenant:' || $1 || ':%'", [T]);
  const first = await claim();
  assert.equal(first.filter((r) => r.id).length, 3);
  const [report] = held(first);
  assert.equal(report.step, "deferTenant");
  // Its deferral has not run yet: a claim with the tokens back meets the mail not yet moved and
  // takes what the tokens allow, without reporting the tenant a second time.
  await refill();
  const second = await claim();
  assert.equal(second.filter((r) => r.id).length, 3);
  assert.deepEqual(held(second), []);
  let moved = 0;
  for (;;) {
    const n = (await inTx("deferScope", (c) => c.query(st.deferTenant.sql, [report.arg, moved]))).rowCount;
    if (n === 0) break;
    moved += n;
  }
  assert.equal(moved, 40 - 6);
  // One numbering: every waiting message has a turn of its own, 20 s apart.
  const turns = (await asSystem(pool, "SELECT extract(epoch FROM next_attempt_at - now())::float8 AS s FROM email_messages WHERE tenant_id = $1 AND status = 'queued' ORDER BY 1", [T])).map((r) => r.s);
  assert.equal(turns.length, 34);
  assert.ok(turns.slice(1).every((s, i) => s - turns[i] > 19.5), turns.join(", "));
  // The last piece ended the mark: mail due again is reported again.
  await asSystem(pool, "UPDATE email_messages SET next_attempt_at = now() WHERE tenant_id = $1 AND status = 'queued'", [T]);
  await refill();
  assert.equal(held(await claim())[0]?.step, "deferTenant");
});
