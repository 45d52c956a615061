// W18 and W17 of the webhooks spec. Run through bench/webhooks.sh (before the throughput run).
// W18: with BENCH_FINISHED finished deliveries (default 1,000,000) and 10,000 pending, the
// claim's p95 over 300 claims of 64 (each rolled back, so the backlog stays the same) and the
// plans of the worker's hot statements (`better-webhooks check --plans`: no sequential scan).
// W17: at a steady 50 messages/s for BENCH_LATENCY_SECONDS (default 20), p95 from commit to the
// receiver seeing the request, with the worker in another process (polling) and in the sending
// process (woken by the send).
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import pg from "pg";
import core from "@usebetter-rs/core";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { runCli } from "@usebetterdev/webhooks-cli";
import { EVENT, SECRETS_KEY, admin, percentile, urlOf, webhooksConfig } from "./common.mjs";

const FINISHED = Number(process.env.BENCH_FINISHED ?? 1_000_000);
const PENDING = 10_000;
const SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 20);
const here = new URL(".", import.meta.url).pathname;
const f = (x, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const p = (xs, q) => percentile([...xs].sort((a, b) => a - b), q);
// Wall-clock milliseconds with sub-millisecond precision, comparable across processes.
const now = () => performance.timeOrigin + performance.now();

const a = await admin();
await a.query("DROP DATABASE IF EXISTS bench_webhooks_queue WITH (FORCE)");
await a.query("CREATE DATABASE bench_webhooks_queue OWNER app");
const url = urlOf("bench_webhooks_queue");
const pool = new pg.Pool({ connectionString: url, max: 4 });
const config = webhooksConfig(sqlExecutorAdapter(pool, { prepare: true }), SECRETS_KEY);
const webhooks = betterWebhooks(config);
await pool.query(webhooks.migrationSql(2));

// ---- W18: the work queue at scale.
const tenant = randomUUID();
for (let e = 0; e < 5; e++) await webhooks.endpoints.create({ url: `http://127.0.0.1:9/e${e}` }, { tenantId: tenant });
// Seeded as the superuser (the rows span the RLS policies as the engine's would).
const seed = await admin("bench_webhooks_queue");
const endpoints = (await seed.query("SELECT id FROM webhook_endpoints")).rows.map((r) => r.id);
const t0 = Date.now();
// Finished deliveries (their messages long purged do not matter to the claim), then 10,000
// pending ones with their messages, due now, spread over the five endpoints.
await seed.query(
  `INSERT INTO webhook_deliveries (id, tenant_id, message_id, message_created_at, endpoint_id, status, attempt_count, next_attempt_at, created_at, finished_at)
   SELECT gen_random_uuid(), $3, gen_random_uuid(), now() - interval '3 days', ($2::uuid[])[1 + g % 5], 'succeeded', 1,
          now() - interval '3 days', now() - interval '3 days', now() - interval '3 days' + g * interval '1 ms'
   FROM generate_series(1, $1::int) g`,
  [FINISHED, endpoints, tenant],
);
await seed.query(
  `WITH m AS (
     INSERT INTO webhook_messages (id, tenant_id, event_type, body, body_sha256, expanded_at)
     SELECT gen_random_uuid(), $4, $2, '{"n":1}', sha256('{"n":1}'), now() FROM generate_series(1, $1::int)
     RETURNING id, created_at)
   INSERT INTO webhook_deliveries (id, tenant_id, message_id, message_created_at, endpoint_id, status, next_attempt_at)
   SELECT gen_random_uuid(), $4, m.id, m.created_at, ($3::uuid[])[1 + (row_number() OVER ()) % 5], 'pending', now() - interval '1 s' FROM m`,
  [PENDING, EVENT, endpoints, tenant],
);
await seed.query("VACUUM ANALYZE");
console.log(`queue: seeded ${f(FINISHED)} finished and ${f(PENDING)} pending deliveries in ${f((Date.now() - t0) / 1000, 1)} s`);

const statements = new core.Webhooks({ eventTypes: [EVENT], secretsKey: SECRETS_KEY }, false).statements();
const claim = statements.claimUnordered;
const system = core.scopeSql(null, null, null);
const client = await pool.connect();
const claims = [];
for (let i = 0; i < 320; i++) {
  await client.query("BEGIN");
  await client.query(system.sql, system.params);
  if (statements.workerTransactionSettings) await client.query(statements.workerTransactionSettings.sql);
  const s = now();
  // As the package's adapter sends it with `prepare: true`: a named prepared statement.
  const { rowCount } = await client.query({ name: "bench_claim", text: claim.sql, values: [true, 64, 10, "bench", 30_000] });
  const took = now() - s;
  await client.query("ROLLBACK");
  if (rowCount !== 50) throw new Error(`claim returned ${rowCount} rows, expected 50 (10 per endpoint)`);
  if (i >= 20) claims.push(took);
}
client.release();
const plans = await runCli(["check", "--plans", "--json"], { config: {}, env: { DATABASE_URL: url, BETTER_WEBHOOKS_KEY: SECRETS_KEY } });
const report = JSON.parse(plans.stdout);
const planChecks = report.results.filter((r) => /plan/i.test(r.check));
const seqScan = planChecks.filter((r) => !r.passed);
console.log(
  `queue: claim of 64 (50 returned: 10 per endpoint) over ${f(FINISHED)} finished + ${f(PENDING)} pending: p50 ${f(p(claims, 0.5), 2)} ms p95 ${f(p(claims, 0.95), 2)} ms; ` +
    `plans of ${planChecks.length} hot statements: ${seqScan.length === 0 ? "no sequential scan on webhook_deliveries" : seqScan.map((r) => r.message).join("; ")}`,
);
if (planChecks.length === 0) throw new Error(`check --plans reported no plan checks: ${plans.stdout}${plans.stderr}`);

// ---- W17: latency at a steady 50 messages/s.
await seed.query("TRUNCATE webhook_deliveries, webhook_messages");
const seen = new Map();
const server = createServer((req, res) => {
  const at = now();
  req.resume();
  req.on("end", () => {
    seen.set(req.headers["webhook-id"], at);
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 30_000;
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const target = `http://127.0.0.1:${server.address().port}/hook`;
await seed.query("DELETE FROM webhook_endpoints");
await webhooks.endpoints.create({ url: target }, { tenantId: tenant });

/** Sends 50 messages/s for SECONDS; the p50/p95 from each commit to its reception. */
async function steady() {
  seen.clear();
  const committed = new Map();
  const c = await pool.connect();
  const start = now();
  for (let i = 0; i < 50 * SECONDS; i++) {
    const due = start + i * 20;
    if (due > now()) await new Promise((r) => setTimeout(r, due - now()));
    await c.query("BEGIN");
    await c.query("SELECT set_config('app.current_tenant', $1, true)", [tenant]);
    const r = await webhooks.send({ eventType: EVENT, payload: { i } }, { tx: c });
    await c.query("COMMIT");
    committed.set(r.id, now());
  }
  c.release();
  const until = Date.now() + 30_000;
  while (seen.size < committed.size && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  if (seen.size < committed.size) throw new Error(`only ${seen.size} of ${committed.size} received`);
  const lat = [...committed].map(([id, t]) => seen.get(id) - t);
  return { p50: p(lat, 0.5), p95: p(lat, 0.95), n: lat.length };
}

// Polling: the worker of bench/webhooks/worker-ours.mjs in its own process (poll interval 50 ms).
const POLL_MS = 50;
const child = fork(`${here}worker-ours.mjs`, [JSON.stringify({ url, secretsKey: SECRETS_KEY, concurrency: 64 })]);
await new Promise((r) => child.once("message", r));
child.send("go");
const polling = await steady();
const stopped = new Promise((r) => child.once("message", r));
child.send("stop");
await stopped;
// In-process: a worker in this process, woken by each send.
const worker = webhooks.createWorker({ concurrency: 64, pollIntervalMs: 1000 });
await worker.start();
const inProcess = await steady();
await worker.stop();
console.log(
  `latency at 50 messages/s (${f(polling.n)} messages each, commit to reception): worker in another process polling every ${POLL_MS} ms p50 ${f(polling.p50, 1)} ms p95 ${f(polling.p95, 1)} ms; ` +
    `worker in the sending process p50 ${f(inProcess.p50, 1)} ms p95 ${f(inProcess.p95, 1)} ms`,
);

server.close();
await pool.end();
await seed.end();
if (!process.env.BENCH_KEEP) await a.query("DROP DATABASE bench_webhooks_queue WITH (FORCE)");
await a.end();
