// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Per-key ordering under failures, slow answers and a killed worker (acceptance W6).
//
// KEYS × PER_KEY messages, each key sent in order but from whichever of SENDERS connections is
// free (so a key's messages are committed from different connections), fan out to three
// endpoints with `ordering: "key"` and a fourth ordered one that takes half the event types.
// WORKERS worker processes deliver them with a short retry schedule while the receiver answers
// 500 to about 20% of requests and delays about 10% by 200 ms; one worker is SIGKILLed mid-run
// with requests in flight, so its leases must expire and be reaped before its lanes move on.
// Per (endpoint, key) the first receptions must be exactly the key's messages in send order and
// the full reception sequence never goes back.
//
// The receiver refuses the same request at most twice: six attempts (the first and five
// retries) all failing at 20% would exhaust about one delivery in 15 000 and block its lane,
// which is W7's case (webhooks-lanes.test.mjs), not this one.
//
// Size: the acceptance figure, 50 keys × 200 messages (35 000 deliveries, about 44 000
// requests). Each lane is a chain of claim → request → record round trips, and four workers,
// the senders, the receiver and PostgreSQL share two cores here, so it takes a minute or two;
// ORDERING_KEYS and ORDERING_PER_KEY make it smaller while working on the engine.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksDatabase, asSystem } from "./helpers/webhooks.mjs";

const KEYS = Number(process.env.ORDERING_KEYS ?? 50);
const PER_KEY = Number(process.env.ORDERING_PER_KEY ?? 200);
const SENDERS = 8;
const WORKERS = 4;
/** Consecutive messages of one key per send transaction. */
const CHUNK = 4;
const TYPES = ["item.created", "item.updated", "item.moved", "item.deleted"];
/** The fourth endpoint's filter: half the event types. */
const HALF = TYPES.slice(0, 2);
const typeOf = (key, seq) => TYPES[(key * 7 + seq) % TYPES.length];

let db, pool, server;
const children = [];
const KEY = randomBytes(32).toString("base64");
/** Per endpoint index, per key: every reception's seq in arrival order. */
const received = Array.from({ length: 4 }, () => Array.from({ length: KEYS }, () => []));
const refusals = new Map();
let requests = 0;

// A seeded generator, so a failing run can be replayed.
let seed = Number(process.env.ORDERING_SEED ?? Date.now() % 2 ** 31);
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

before(async () => {
  db = await webhooksDatabase("webhooks_ordering", SENDERS + 2);
  pool = db.pool;
  server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      requests++;
      const ep = Number(req.url.slice(1));
      const { key, seq } = JSON.parse(Buffer.concat(chunks).toString()).data;
      received[ep][key].push(seq);
      const id = `${ep}:${key}:${seq}`;
      let status = 204;
      if (random() < 0.2 && (refusals.get(id) ?? 0) < 2) {
        refusals.set(id, (refusals.get(id) ?? 0) + 1);
        status = 500;
      }
      const delay = random() < 0.1 ? 200 : 0;
      setTimeout(() => res.writeHead(status).end(), delay);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  server?.closeAllConnections();
  server?.close();
  await db?.drop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A worker process; resolves once it has started. */
function startWorker(connection, config, worker) {
  const child = spawn(process.execPath, [new URL("./helpers/webhooks-worker-child.mjs", import.meta.url).pathname, JSON.stringify({ connection, config, worker })], {
    stdio: ["ignore", "pipe", "inherit"],
    env: process.env,
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout.once("data", () => resolve(child));
    child.once("exit", (code, signal) => reject(new Error(`worker ${worker.workerId} exited early (${code ?? signal})`)));
  });
}

/** Sends every key's messages in order from SENDERS connections; a key is never sent from two at once. */
async function sendAll(w, tenant) {
  const next = new Array(KEYS).fill(1);
  const busy = new Set();
  let cursor = 0;
  const pick = () => {
    for (let i = 0; i < KEYS; i++) {
      const k = (cursor + i) % KEYS;
      if (!busy.has(k) && next[k] <= PER_KEY) {
        cursor = k + 1;
        return k;
      }
    }
    return -1;
  };
  const sender = async () => {
    const c = await pool.connect();
    try {
      for (;;) {
        const k = pick();
        if (k < 0) {
          if (next.every((n) => n > PER_KEY)) return;
          await sleep(1);
          continue;
        }
        busy.add(k);
        const from = next[k];
        const seqs = Array.from({ length: Math.min(CHUNK, PER_KEY - from + 1) }, (_, i) => from + i);
        await c.query("BEGIN");
        await c.query("SELECT set_config('app.current_tenant', $1, true)", [tenant]);
        await w.sendMany(seqs.map((seq) => ({ eventType: typeOf(k, seq), orderingKey: `key-${k}`, payload: { key: k, seq } })), { tx: c });
        await c.query("COMMIT");
        next[k] = from + seqs.length;
        busy.delete(k);
      }
    } finally {
      c.release();
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
}

test(`per-key order holds for ${KEYS} keys × ${PER_KEY} messages through failures, delays and a killed worker`, { timeout: 600_000 }, async () => {
  const t0 = Date.now();
  const config = {
    eventTypes: TYPES,
    secretsKey: KEY,
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: [0.05, 0.1, 0.2, 0.4, 0.8] },
  };
  const w = betterWebhooks({ ...config, database: sqlExecutorAdapter(pool) });
  await pool.query(w.migrationSql(2));
  const tenant = randomUUID();
  const base = `http://127.0.0.1:${server.address().port}`;
  const endpoints = [];
  for (let i = 0; i < 4; i++) {
    const { endpoint } = await w.endpoints.create({ url: `${base}/${i}`, ordering: "key", ...(i === 3 ? { eventTypes: HALF } : {}) }, { tenantId: tenant });
    endpoints.push(endpoint);
  }

  const u = new URL(process.env.DATABASE_URL);
  const connection = { host: u.hostname, port: Number(u.port), user: "app", password: "app", database: pool.options.database };
  // Leases outlive the slowest answer (200 ms) with wide room for a loaded machine: a request
  // is aborted when its lease ends (less a margin), but bytes it already wrote can still reach
  // a receiver whose accept queue lags by more than that margin, after the re-sent copy. The
  // reaper runs often so the killed worker's leases are taken back soon after they expire.
  const workerOptions = (i) => ({ workerId: `w${i}`, concurrency: 32, pollIntervalMs: 25, leaseMs: 15_000, reapIntervalMs: 250 });
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker(connection, config, workerOptions(i))));
  const expected = KEYS * PER_KEY * 3 + Array.from({ length: KEYS }, (_, k) => Array.from({ length: PER_KEY }, (_, i) => typeOf(k, i + 1)).filter((t) => HALF.includes(t)).length).reduce((a, b) => a + b, 0);
  const sending = sendAll(w, tenant);

  // Kill worker w0 outright once it holds some leases: what it had in flight is never recorded.
  let heldAtKill = [];
  for (;;) {
    const rows = await asSystem(pool, "SELECT id FROM webhook_deliveries WHERE status = 'in_flight' AND lease_owner = 'w0'");
    if (rows.length >= 5 && requests > expected / 4) {
      children[0].kill("SIGKILL");
      break;
    }
    await sleep(50);
  }
  await new Promise((r) => (children[0].exitCode !== null || children[0].signalCode !== null ? r() : children[0].once("exit", r)));
  heldAtKill = (await asSystem(pool, "SELECT id FROM webhook_deliveries WHERE status = 'in_flight' AND lease_owner = 'w0'")).map((r) => r.id);
  await sending;
  const sentAt = Date.now();

  const deadline = Date.now() + 300_000;
  for (;;) {
    const [s] = await asSystem(
      pool,
      "SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'succeeded')::int AS done, (SELECT count(*)::int FROM webhook_messages WHERE expanded_at IS NULL) AS unexpanded FROM webhook_deliveries",
    );
    if (s.unexpanded === 0 && s.total === expected && s.done === expected) break;
    if (Date.now() > deadline) {
      const states = await asSystem(pool, "SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY 1 UNION ALL SELECT 'lane ' || state, count(*)::int FROM webhook_lanes GROUP BY 1");
      const stuck = await asSystem(pool, "SELECT d.status, d.lane_seq::int, a.attempt_number, a.outcome, a.worker_id, a.duration_ms FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id WHERE d.status = 'exhausted' ORDER BY a.created_at LIMIT 20");
      assert.fail(`not delivered in time: ${JSON.stringify(s)} of ${expected}; ${JSON.stringify(states)}; exhausted: ${JSON.stringify(stuck)}`);
    }
    await sleep(250);
  }
  const deliveredAt = Date.now();

  // Order: per (endpoint, key) the first receptions are the key's messages in send order, and
  // no reception goes back (a retry or a re-sent lease never overtakes a later message).
  for (let ep = 0; ep < 4; ep++) {
    for (let k = 0; k < KEYS; k++) {
      const all = received[ep][k];
      const want = Array.from({ length: PER_KEY }, (_, i) => i + 1).filter((seq) => ep < 3 || HALF.includes(typeOf(k, seq)));
      assert.deepEqual([...new Set(all)], want, `first receptions of endpoint ${ep}, key ${k}`);
      for (let i = 1; i < all.length; i++) {
        assert.ok(all[i] >= all[i - 1], `endpoint ${ep}, key ${k}: ${all[i]} received after ${all[i - 1]}`);
      }
    }
  }

  // The filtered endpoint's lanes numbered its half without gaps and went idle past their end.
  const lanes = await asSystem(pool, "SELECT endpoint_id, state, assign_seq::int, head_seq::int FROM webhook_lanes");
  assert.equal(lanes.length, KEYS * 4);
  assert.ok(lanes.every((l) => l.state === "idle" && l.head_seq === l.assign_seq + 1), JSON.stringify(lanes.find((l) => l.state !== "idle" || l.head_seq !== l.assign_seq + 1)));
  const [{ half }] = await asSystem(pool, "SELECT sum(assign_seq)::int AS half FROM webhook_lanes WHERE endpoint_id = $1", [(await asSystem(pool, "SELECT id FROM webhook_endpoints WHERE url LIKE '%/3'"))[0].id]);
  assert.equal(half, expected - KEYS * PER_KEY * 3);

  // The killed worker's leases expired and were reaped (recorded as `lease_expired`), then
  // delivered by the others.
  assert.ok(heldAtKill.length > 0, "w0 held leases when killed");
  const reaped = await asSystem(pool, "SELECT DISTINCT delivery_id FROM webhook_attempts WHERE outcome = 'lease_expired' AND delivery_id = ANY($1::uuid[])", [heldAtKill]);
  assert.equal(reaped.length, heldAtKill.length, "every delivery w0 held was reaped");
  const failures = await asSystem(pool, "SELECT outcome, count(*)::int AS n FROM webhook_attempts GROUP BY 1 ORDER BY 1");
  assert.ok(failures.some((f) => f.outcome === "http_error" && f.n > expected / 10), JSON.stringify(failures));

  for (const c of children.slice(1)) c.kill("SIGTERM");
  await Promise.all(children.slice(1).map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once("exit", r)))));
  console.log(
    `# ${KEYS}×${PER_KEY} keys×messages, ${expected} deliveries, ${requests} requests: sent in ${(sentAt - t0) / 1000} s, delivered in ${(deliveredAt - t0) / 1000} s; ${heldAtKill.length} leases reaped from the killed worker; attempts ${JSON.stringify(failures)}`,
  );
});
