// The worker's loop against real PostgreSQL: it claims again as soon as hand-off slots are free,
// so a message stuck with its transport holds only its own slot, not its round's; `stop()`
// returns once every claimed message has been recorded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { captureTransport } from "@usebetterdev/email/testing";
import { testEmail } from "./helpers/email.mjs";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
let db, pool;

/** A transport that answers at once, except for subjects in `gated`, which wait for `release()`. */
function gatedTransport(gated) {
  let open;
  const gate = new Promise((resolve) => (open = resolve));
  const handed = [];
  return {
    handed,
    release: () => open(),
    transport: {
      name: "gated",
      kind: "capture",
      capabilities: { idempotency: true, batch: 1, rawMime: true, tags: true, edge: true },
      async send(batch) {
        const out = [];
        for (const m of batch) {
          if (gated.has(m.subject)) await gate;
          handed.push(m.subject);
          out.push({ outcome: "sent", providerMessageId: m.id });
        }
        return out;
      },
    },
  };
}

const statuses = async (ids) => {
  const rows = await asSystem(pool, "SELECT id::text, status FROM email_messages WHERE id = ANY($1::uuid[])", [ids.map((id) => core.webhookId("email", id, false))]);
  return new Map(rows.map((r) => [r.id, r.status]));
};

before(async () => {
  db = await webhooksDatabase("email_worker");
  pool = db.pool;
  await pool.query(testEmail(pool, gatedTransport(new Set()).transport).migrationSql(1));
});

after(async () => {
  await db?.drop();
});

test("a message held by its transport keeps one slot: the rest of its round's slots claim and record more mail meanwhile", async () => {
  const g = gatedTransport(new Set(["slow"]));
  const email = testEmail(pool, g.transport);
  const send = (subject) => inTenant(pool, TENANT, (c) => email.send({ to: `${subject}@example.com`, subject, text: "t" }, { tx: c }));
  // The slow message first (the claim takes the oldest first), then eight more than one round holds.
  const slow = (await send("slow")).id;
  const rest = [];
  for (let i = 0; i < 11; i++) rest.push((await send(`m${i}`)).id);
  const worker = email.createWorker({ concurrency: 4, pollIntervalMs: 20 });
  await worker.start();
  try {
    const deadline = Date.now() + 10_000;
    let s = await statuses(rest);
    while ([...s.values()].some((x) => x !== "sent") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      s = await statuses(rest);
    }
    // Every other message went out and was recorded while the slow one still waited: with
    // rounds run one after the other, the first round would have held the worker.
    assert.deepEqual([...s.values()].filter((x) => x === "sent").length, 11, JSON.stringify([...s]));
    assert.equal((await statuses([slow])).values().next().value, "in_flight");
    assert.ok(!g.handed.includes("slow"));
  } finally {
    g.release();
    await worker.stop();
  }
  // stop() returned after the slow message's answer was recorded.
  assert.equal((await statuses([slow])).values().next().value, "sent");
});

test("the MIME is built only when a configured transport sends it", async () => {
  const seen = [];
  const transport = (rawMime) => ({
    name: `raw-${rawMime}`,
    kind: "capture",
    capabilities: { idempotency: true, batch: 1, rawMime, tags: true, edge: true },
    async send(batch) {
      for (const m of batch) seen.push([rawMime, new TextDecoder().decode(m.raw), m.outgoing.subject]);
      return batch.map((m) => ({ outcome: "sent", providerMessageId: m.id }));
    },
  });
  for (const rawMime of [false, true]) {
    const email = testEmail(pool, transport(rawMime));
    await inTenant(pool, TENANT, (c) => email.send({ to: "raw@example.com", subject: `raw ${rawMime}`, text: "t" }, { tx: c }));
    await email.drain({ maxMs: 10_000 });
  }
  const [json, mime] = [seen.find((s) => s[2] === "raw false"), seen.find((s) => s[2] === "raw true")];
  assert.equal(json[1], "", "a JSON-only configuration gets no MIME");
  assert.match(mime[1], /^[\s\S]*\r\nSubject: raw true\r\n/);
});

test("a transport that takes a group but never marks it (no batch request) keeps a lone message's ambiguity policy", async () => {
  const capture = captureTransport();
  const email = testEmail(pool, capture, { retrySchedule: [0, 0.05, 0.05] });
  const tenant = randomUUID();
  const ids = [];
  for (const to of ["g1@example.com", "g2@example.com"]) ids.push((await inTenant(pool, tenant, (c) => email.send({ to, subject: "group", text: "t" }, { tx: c }))).id);
  capture.failNext("ambiguous");
  await email.drain({ maxMs: 10_000 });
  await new Promise((r) => setTimeout(r, 100));
  await email.drain({ maxMs: 10_000 });
  const s = await statuses(ids);
  assert.deepEqual([...s.values()], ["sent", "sent"], "retried under onAmbiguous \"retry\", not held");
});

test("a route that throws for one message: the worker keeps going, the others are sent, stop() returns", async () => {
  const capture = captureTransport();
  const email = testEmail(pool, capture, { route: ({ category }) => (category === "marketing" ? "nowhere" : "capture") });
  const ok = [];
  for (let i = 0; i < 4; i++) ok.push((await inTenant(pool, randomUUID(), (c) => email.send({ to: `r${i}@example.com`, subject: "routed", text: "t" }, { tx: c }))).id);
  const bad = (await inTenant(pool, randomUUID(), (c) => email.send({ to: "m@example.com", subject: "unroutable", text: "t", category: "marketing" }, { tx: c }))).id;
  const errors = [];
  const original = console.error;
  console.error = (...a) => errors.push(a.map(String).join(" "));
  const worker = email.createWorker({ concurrency: 2, pollIntervalMs: 20 });
  try {
    await worker.start();
    const deadline = Date.now() + 10_000;
    let s = await statuses(ok);
    while ([...s.values()].some((x) => x !== "sent") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      s = await statuses(ok);
    }
    await worker.stop();
  } finally {
    console.error = original;
  }
  assert.deepEqual([...(await statuses(ok)).values()], ["sent", "sent", "sent", "sent"]);
  assert.equal((await statuses([bad])).values().next().value, "in_flight", "left for the reaper");
  assert.ok(errors.some((e) => /EMAIL_TRANSPORT_NOT_FOUND|nowhere/.test(e)), errors.join("\n"));
});

test("the loop claims while answers are recorded, yet never has more than `concurrency` requests out or being recorded", async () => {
  // The loop alone, driven by an engine that plays the protocol: a request takes its slot,
  // is with its transport 8 ms, then its answers are recorded for 6 ms (`arrived`, `release`).
  const { runWorker } = await import(new URL("../npm/email/dist/worker/loop.js", import.meta.url).href);
  const TOTAL = 60;
  let left = TOTAL;
  let out = 0;
  let recording = 0;
  let most = 0;
  let claimsWhileRecording = 0;
  let finished = 0;
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const engine = {
    async begin(free, slots) {
      if (recording > 0) claimsWhileRecording++;
      const n = Math.min(free, left);
      left -= n;
      const each = Array.from({ length: n }, async () => {
        await slots.take();
        out++;
        most = Math.max(most, out + recording);
        await wait(8);
        out--;
        recording++;
        slots.arrived();
        await wait(6);
        recording--;
        finished++;
        slots.release();
      });
      return { claimed: n, requests: n, done: Promise.all(each).then(() => undefined) };
    },
    async reap() {
      return 0;
    },
    waitMs: () => null,
  };
  const worker = runWorker(engine, { concurrency: 4, pollIntervalMs: 5 });
  await worker.start();
  const deadline = Date.now() + 10_000;
  while (finished < TOTAL && Date.now() < deadline) await wait(10);
  await worker.stop();
  assert.equal(finished, TOTAL);
  assert.ok(most <= 4, `at most 4 requests out or being recorded, saw ${most}`);
  assert.ok(claimsWhileRecording > 0, "claims ran while earlier answers were being recorded");
});
