// suite: once (scripts/test.sh runs it once; the `better-email` bin runs on the native addon)
// Crash safety of the CLI worker (spec §20 E2, SMTP half): 10,000 messages to an SMTP sink on
// loopback, handed off by `better-email worker --concurrency 16` while the test SIGKILLs it at
// five random moments and starts it again. Afterwards every message has reached the sink at
// least once, the duplicates are at most what five kills can leave in flight (5 × 16), every
// message has ended `sent` (none lost, none left in flight), and some were handed off again
// after a kill, so the kills mattered.
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

const MESSAGES = 10_000;
const CONCURRENCY = 16;
const KILLS = 5;
const KEY = randomBytes(32).toString("base64");
const bin = createRequire(import.meta.url).resolve("@usebetterdev/email-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
let db, sink;
const children = new Set();

before(async () => {
  db = await webhooksDatabase("email_crash", 8);
  sink = await smtpSink();
  const setup = betterEmail({ database: sqlEmailAdapter(db.pool), transport: captureTransport(), from: "a@acme.example", unsubscribe: { baseUrl: "https://acme.example/u" }, secretsKey: KEY });
  await db.pool.query(setup.migrationSql(2));
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await sink?.close();
  await db?.drop();
});

/** Starts the bin's worker in `cwd`; resolves once it reports that it started. */
function startWorker(cwd) {
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${db.name}`;
  url.username = "app";
  url.password = "app";
  return startWorkerBin(bin, ["--concurrency", String(CONCURRENCY)], { cwd, env: { DATABASE_URL: url.toString() }, children });
}

const statuses = async () => Object.fromEntries((await asSystem(db.pool, "SELECT status, count(*)::int AS n FROM email_messages GROUP BY status")).map((r) => [r.status, r.n]));

test("E2: the CLI worker SIGKILLed five times loses nothing, leaves nothing in flight, and duplicates at most 5 × 16", { timeout: 300_000 }, async () => {
  // The worker's transport comes from better.config.mjs, as in an application; a 1 s SMTP
  // timeout keeps the lease a killed worker leaves behind short (timeouts + 30 s).
  const cwd = project("email-crash", {
    "better.config.mjs": `import { smtp } from "@usebetterdev/email/smtp";
export default {
  tenant: { tenantTables: [] },
  email: {
    from: "Acme <hello@acme.example>",
    transport: smtp({ host: "127.0.0.1", port: ${sink.port}, secure: "none", pool: { max: 8 }, timeoutMs: 1000, connectTimeoutMs: 1000 }),
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
  const received = () => sink.state.messages.length;
  let worker = startWorker(cwd);
  await worker.started;
  for (let k = 0; k < KILLS; k++) {
    const target = Math.floor(((k + Math.random()) / (KILLS + 1)) * MESSAGES);
    const end = Date.now() + 120_000;
    while (received() < target && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    worker.child.kill("SIGKILL");
    const killed = await worker.exited;
    assert.equal(killed.signal, "SIGKILL", killed.stderr);
    worker = startWorker(cwd);
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

  assert.deepEqual(s, { sent: MESSAGES }, "every message ends sent; none queued, in flight or ambiguous");
  const counts = new Map();
  for (const m of sink.state.messages) {
    const subject = /^Subject: Message (\d+)\r$/m.exec(m.raw.toString())?.[1];
    counts.set(subject, (counts.get(subject) ?? 0) + 1);
  }
  const missing = Array.from({ length: MESSAGES }, (_, n) => String(n)).filter((n) => !counts.has(n));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} messages never reached the sink`);
  const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
  assert.ok(duplicates <= KILLS * CONCURRENCY, `${duplicates} duplicate messages at the sink`);
  const again = await asSystem(db.pool, "SELECT count(*)::int AS n FROM email_messages WHERE attempt_count > 1");
  assert.ok(again[0].n > 0, "some messages were handed off again after a kill");
});
