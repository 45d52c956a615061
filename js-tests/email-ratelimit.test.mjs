// A transport's rate (spec §12, E15's first clause): `maxPerSecond` is one bucket row in
// PostgreSQL that every worker's claim takes its grants from, so three workers together never
// hand the fake Resend more than that many requests in any 1-second window (measured where the
// requests arrive), each grant carrying one request (a batch of messages with batching on).
// `drain()` waits for the next grant rather than stopping; limits that this version cannot
// enforce are refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
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
