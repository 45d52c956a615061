// The crash harness of email-crash*.test.mjs (spec §20 E2): a database of its own, the
// `better-email` bin's worker started from a project's better.config.mjs, SIGKILLed KILLS times
// while it hands off MESSAGES messages, and a tally of what the receiver got.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport } from "@usebetterdev/email/testing";
import { webhooksDatabase, inTenant, asSystem } from "./webhooks.mjs";
import { finishWorker, project, startWorkerBin } from "./cli.mjs";
import { requireEnv } from "./db.mjs";

export const MESSAGES = 10_000;
export const CONCURRENCY = 16;
export const KILLS = 5;
const KEY = randomBytes(32).toString("base64");
const bin = createRequire(import.meta.url).resolve("@usebetterdev/email-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");

/**
 * Registers the suite's set-up: a database named `dbName` with the email tables, and the
 * receiver `open()` makes (closed after). Returns `crashRun` and `tally` for the suite's tests.
 */
export function crashHarness(dbName, open) {
  let db;
  let receiver;
  const children = new Set();

  before(async () => {
    db = await webhooksDatabase(dbName, 8);
    receiver = await open();
    const setup = betterEmail({ database: sqlEmailAdapter(db.pool), transport: captureTransport(), from: "a@acme.example", unsubscribe: { baseUrl: "https://acme.example/u" }, secretsKey: KEY });
    await db.pool.query(setup.migrationSql(2));
  });

  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await receiver?.close();
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
    const s = await finishWorker(worker, statuses, (x) => (x.sent ?? 0) >= MESSAGES);
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

  return { receiver: () => receiver, crashRun, tally };
}
