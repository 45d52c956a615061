// suite: once (scripts/test.sh runs it once; the `better-email` bin runs on the native addon)
// Crash safety of the CLI worker (spec §20 E2): 10,000 messages handed off by `better-email
// worker --concurrency 16` while the test SIGKILLs it at five random moments and starts it
// again. To an SMTP sink on loopback: every message reaches the sink at least once, the
// duplicates are at most what five kills can leave in flight (5 × 16). To the fake Resend, in
// batches of 100: the fake sees requests made again (a killed worker's batches, repeated whole
// and identical) and accepts each email exactly once (idempotency keys). Both: every message
// ends `sent` (none lost, none left in flight or held), and some were handed off again after a
// kill, so the kills mattered.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport } from "@usebetterdev/email/testing";
import { webhooksDatabase, inTenant, asSystem } from "./helpers/webhooks.mjs";
import { project, startWorkerBin } from "./helpers/cli.mjs";
import { requireEnv } from "./helpers/db.mjs";
import { smtpSink } from "./helpers/smtp-sink.mjs";
import { fakeResend } from "@usebetterdev/email/testing";

const MESSAGES = 10_000;
const CONCURRENCY = 16;
const KILLS = 5;
const KEY = randomBytes(32).toString("base64");
const bin = createRequire(import.meta.url).resolve("@usebetterdev/email-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
let db, sink, fake;
const children = new Set();

before(async () => {
  db = await webhooksDatabase("email_crash", 8);
  sink = await smtpSink();
  // Answers after 200 ms, having accepted the emails first: kills land between the two.
  fake = await fakeResend({ apiKey: "re_crash", latencyMs: 200 });
  const setup = betterEmail({ database: sqlEmailAdapter(db.pool), transport: captureTransport(), from: "a@acme.example", unsubscribe: { baseUrl: "https://acme.example/u" }, secretsKey: KEY });
  await db.pool.query(setup.migrationSql(2));
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await sink?.close();
  await fake?.close();
  await db?.drop();
});

/** Starts the bin's worker in `cwd` (with `flags`); resolves once it reports that it started. */
function startWorker(cwd, flags) {
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${db.name}`;
  url.username = "app";
  url.password = "app";
  return startWorkerBin(bin, ["--concurrency", String(CONCURRENCY), ...flags], { cwd, env: { DATABASE_URL: url.toString() }, children });
}


/** Sends MESSAGES in a fresh tenant, runs the worker of `config` (better.config.mjs's `email.transport` and imports, the worker's `flags`) killed KILLS times as `delivered()` passes random marks, then lets the last one finish; returns the statuses. */
async function crashRun(name, { imports, transport, flags = [] }, delivered) {
  // The worker's transport comes from better.config.mjs, as in an application; 1 s timeouts
  // keep the lease a killed worker leaves behind short (timeouts + 30 s).
  const cwd = project(name, {
    "better.config.mjs": `${imports}
export default {
  tenant: { tenantTables: [] },
  email: {
    from: "Acme <hello@acme.example>",
    transport: ${transport},
    unsubscribe: { baseUrl: "https://acme.example/u" },
    secretsKey: ${JSON.stringify(KEY)},
    retrySchedule: [0, 0.05, 0.1, 0.2],
  },
};
`,
  });
  const email = betterEmail({ database: sqlEmailAdapter(db.pool), transport: captureTransport(), from: "Acme <hello@acme.example>", unsubscribe: { baseUrl: "https://acme.example/u" }, secretsKey: KEY });
  const tenant = randomUUID();
  for (let i = 0; i < MESSAGES; i += 500) {
    const batch = Array.from({ length: 500 }, (_, k) => ({ to: `user${i + k}@example.com`, subject: `Message ${i + k}`, html: `<p>${"x".repeat(3000)}</p>`, text: "x".repeat(1000) }));
    await inTenant(db.pool, tenant, (c) => email.sendMany(batch, { tx: c }));
  }
  const mine = `FROM email_messages WHERE tenant_id = '${tenant}'`;
  const statuses = async () => Object.fromEntries((await asSystem(db.pool, `SELECT status, count(*)::int AS n ${mine} GROUP BY status`)).map((r) => [r.status, r.n]));
  let worker = startWorker(cwd, flags);
  await worker.started;
  for (let k = 0; k < KILLS; k++) {
    const target = Math.floor(((k + Math.random()) / (KILLS + 1)) * MESSAGES);
    const end = Date.now() + 120_000;
    while (delivered() < target && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    worker.child.kill("SIGKILL");
    const killed = await worker.exited;
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    worker = startWorker(cwd, flags);
    await worker.started;
  }
  // The last worker finishes the rest, including what the killed ones left leased.
  const end = Date.now() + 180_000;
  let s = await statuses();
  while ((s.sent ?? 0) < MESSAGES && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    s = await statuses();
  }
  worker.child.kill("SIGTERM");
  const stopped = await worker.exited;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /stopping \(SIGTERM\)[\s\S]*stopped/);
  const left = await asSystem(db.pool, `SELECT status, last_outcome, last_error, batch_id IS NOT NULL AS batched, count(*)::int AS n ${mine} AND status <> 'sent' GROUP BY 1, 2, 3, 4`);
  assert.deepEqual(s, { sent: MESSAGES }, `every message ends sent; none queued, in flight or ambiguous: ${JSON.stringify(left)}`);
  const again = await asSystem(db.pool, `SELECT count(*)::int AS n ${mine} AND attempt_count > 1`);
  assert.ok(again[0].n > 0, "some messages were handed off again after a kill");
}

/** How many times each of the MESSAGES subjects arrived; the numbers of those that never did. */
function tally(subjects) {
  const counts = new Map();
  for (const n of subjects) counts.set(n, (counts.get(n) ?? 0) + 1);
  const missing = Array.from({ length: MESSAGES }, (_, n) => String(n)).filter((n) => !counts.has(n));
  return { missing, duplicates: [...counts.values()].reduce((sum, n) => sum + n - 1, 0) };
}

test("E2 (SMTP): the CLI worker SIGKILLed five times loses nothing, leaves nothing in flight, and duplicates at most 5 × 16", { timeout: 300_000 }, async () => {
  await crashRun(
    "email-crash",
    {
      imports: `import { smtp } from "@usebetterdev/email/smtp";`,
      transport: `smtp({ host: "127.0.0.1", port: ${sink.port}, secure: "none", pool: { max: 8 }, timeoutMs: 1000, connectTimeoutMs: 1000 })`,
    },
    () => sink.state.messages.length,
  );
  const { missing, duplicates } = tally(sink.state.messages.map((m) => /^Subject: Message (\d+)\r$/m.exec(m.raw.toString())?.[1]));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} messages never reached the sink`);
  assert.ok(duplicates <= KILLS * CONCURRENCY, `${duplicates} duplicate messages at the sink`);
});

test("E2 (Resend, batches of 100): killed five times, the fake sees requests repeated and accepts each email exactly once", { timeout: 300_000 }, async () => {
  await crashRun(
    "email-crash-resend",
    {
      imports: `import { resend } from "@usebetterdev/email/resend";`,
      transport: `resend({ apiKey: "re_crash", baseUrl: ${JSON.stringify(fake.url)}, timeoutMs: 1000 })`,
      // This run's worker uses named prepared statements (each restart prepares them again).
      flags: ["--prepare"],
    },
    () => fake.emails.length,
  );
  const { missing, duplicates } = tally(fake.emails.map((m) => /^Message (\d+)$/.exec(String(m.body.subject))?.[1]));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} messages never reached the fake`);
  assert.equal(duplicates, 0, "no email accepted twice");
  assert.ok(fake.replayed > 0, `the fake answered ${fake.replayed} requests from its idempotency record: a killed worker's batches were made again`);
  assert.equal(fake.conflicts, 0, "every repeat was the identical request");
});
