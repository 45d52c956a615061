// W15 and W16 of the webhooks spec, side by side with pg-boss 10 in one run. Run through
// bench/webhooks.sh. BENCH_MESSAGES messages (default 20,000) × 5 endpoints, 1 KiB payload;
// BENCH_ENQUEUE transactions per variant for the enqueue cost (default 2,000).
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import pg from "pg";
import PgBoss from "pg-boss";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { EVENT, QUEUE, SECRETS_KEY, admin, captureStatement, cpuSeconds, freshIds, percentile, postgresCpuSeconds, postgresTicks, urlOf, webhooksConfig } from "./common.mjs";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const ENQUEUE = Number(process.env.BENCH_ENQUEUE ?? 2_000);
const ENDPOINTS = 5;
const CONCURRENCY = 64;
const TENANT = randomUUID();
const here = new URL(".", import.meta.url).pathname;
const f = (x, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => percentile([...xs].sort((a, b) => a - b), 0.5);
const payload = (i) => ({ orderId: i, customer: `cus_${i % 997}`, note: "x".repeat(960) });

const a = await admin();
await a.query("DROP DATABASE IF EXISTS bench_webhooks WITH (FORCE)");
await a.query("CREATE DATABASE bench_webhooks OWNER app");
const url = urlOf("bench_webhooks");
const pool = new pg.Pool({ connectionString: url, max: 4 });
const webhooks = betterWebhooks(webhooksConfig(sqlExecutorAdapter(pool, { prepare: true }), SECRETS_KEY));
await pool.query(webhooks.migrationSql(2));
await pool.query("CREATE TABLE orders (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, amount_cents int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false });
boss.on("error", (err) => console.error("pg-boss:", err.message));
await boss.start();
await boss.createQueue(QUEUE);

const receiver = fork(`${here}receiver.mjs`);
const { port } = await new Promise((r) => receiver.once("message", r));
const origin = `http://127.0.0.1:${port}`;
const receiverStats = () => new Promise((r) => (receiver.once("message", r), receiver.send("stats")));
const endpoints = [];
for (let e = 0; e < ENDPOINTS; e++) {
  const { endpoint, secret } = await webhooks.endpoints.create({ url: `${origin}/e${e}` }, { tenantId: TENANT });
  endpoints.push({ id: endpoint.id, path: `/e${e}`, secret });
}

/** `fn(client)` inside a transaction of TENANT, as a tenant scope runs it. */
async function inTenant(client, fn) {
  await client.query("BEGIN");
  try {
    await client.query("SELECT set_config('app.current_tenant', $1, true)", [TENANT]);
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  }
}
const shim = (client) => ({ executeSql: (text, values) => client.query(text, values) });
const order = (c, i) => c.query("INSERT INTO orders (tenant_id, amount_cents) VALUES ($1, $2)", [TENANT, i]);
// The floor of an enqueue: one more prepared round trip writing a row of the same size (the
// serialised payload) into a table with only a primary key.
await pool.query("CREATE TABLE floor_rows (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL)");
const floor = (c, i) => c.query({ name: "floor", text: "INSERT INTO floor_rows VALUES ($1, $2, $3)", values: [randomUUID(), TENANT, JSON.stringify(payload(i))] });

// W16: the added time of send() in the application's transaction, interleaved variants.
const client = await pool.connect();
// send()'s own INSERT, as the package sent it once, replayed with a fresh message id: what the
// spec's table (RLS, partitioned, four indexes) costs before any of the package's work.
const statement = await inTenant(client, (c) => captureStatement(c, () => webhooks.send({ eventType: EVENT, payload: payload(0) }, { tx: c })));
const variants = {
  none: (c, i) => order(c, i),
  floor: async (c, i) => (await order(c, i), await floor(c, i)),
  statement: async (c, i) => (await order(c, i), await c.query({ ...statement, values: freshIds(statement.values) })),
  ours: async (c, i) => (await order(c, i), await webhooks.send({ eventType: EVENT, payload: payload(i) }, { tx: c })),
  pgboss: async (c, i) => (await order(c, i), await boss.send(QUEUE, { i, body: payload(i) }, { db: shim(c) })),
};
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let i = 0; i < 200 + ENQUEUE; i++) {
  for (const [k, fn] of Object.entries(variants)) {
    const t0 = process.hrtime.bigint();
    await inTenant(client, (c) => fn(c, i));
    if (i >= 200) times[k].push(ms(t0));
  }
}
const p50 = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
const added = Object.fromEntries(Object.keys(variants).map((k) => [k, p50[k] - p50.none]));
const many = [];
const manyFloor = [];
for (let r = 0; r < 5; r++) {
  const items = Array.from({ length: 1000 }, (_, i) => ({ eventType: EVENT, payload: payload(i) }));
  let t0 = process.hrtime.bigint();
  await inTenant(client, (c) => webhooks.sendMany(items, { tx: c }));
  many.push(ms(t0));
  // Its floor: the same rows' ids, tenant and serialised payloads in one prepared INSERT.
  t0 = process.hrtime.bigint();
  await inTenant(client, (c) =>
    c.query({
      name: "floorMany",
      text: "INSERT INTO floor_rows SELECT x.id, $2, x.body FROM unnest($1::uuid[], $3::text[]) AS x(id, body)",
      values: [items.map(() => randomUUID()), TENANT, items.map((m) => JSON.stringify(m.payload))],
    }),
  );
  manyFloor.push(ms(t0));
}
await client.query("TRUNCATE webhook_messages, orders, floor_rows");
await client.query("DELETE FROM pgboss.job WHERE name = $1", [QUEUE]);
console.log(
  `enqueue (p50 of ${ENQUEUE} transactions: set tenant + INSERT + COMMIT): without send ${f(p50.none, 3)} ms, ` +
    `+ send() ${f(p50.ours, 3)} ms (added ${f(added.ours, 3)} ms), + pg-boss send() ${f(p50.pgboss, 3)} ms (added ${f(added.pgboss, 3)} ms), ` +
    `+ floor (a same-size row, primary key only) ${f(p50.floor, 3)} ms (added ${f(added.floor, 3)} ms; send() at ${f(added.floor / added.ours, 2)} of it), ` +
    `+ send()'s INSERT alone (replayed, no package code) ${f(p50.statement, 3)} ms (added ${f(added.statement, 3)} ms); ` +
    `sendMany(1000) median of 5: ${f(median(many), 1)} ms (floor ${f(median(manyFloor), 1)} ms)`,
);

// W15 seed: per transaction 100 orders, sendMany(100) and one pg-boss job per delivery.
const t0seed = process.hrtime.bigint();
for (let from = 0; from < MESSAGES; from += 100) {
  const n = Math.min(100, MESSAGES - from);
  await inTenant(client, async (c) => {
    await c.query("INSERT INTO orders (tenant_id, amount_cents) SELECT $1, g FROM generate_series(1, $2) g", [TENANT, n]);
    const inputs = Array.from({ length: n }, (_, i) => ({ eventType: EVENT, payload: payload(from + i) }));
    const sent = await webhooks.sendMany(inputs, { tx: c });
    const ts = new Date().toISOString();
    const jobs = sent.flatMap((s, i) => {
      const body = JSON.stringify({ type: EVENT, timestamp: ts, data: inputs[i].payload });
      return endpoints.map((e) => ({ name: QUEUE, data: { path: e.path, secret: e.secret, id: s.id, body } }));
    });
    await boss.insert(jobs, { db: shim(c) });
  });
}
client.release();
await pool.query("VACUUM ANALYZE");
const monitor = await admin("bench_webhooks");
console.log(`seeded ${f(MESSAGES)} messages and ${f(MESSAGES * ENDPOINTS)} pg-boss jobs in ${f(ms(t0seed) / 1000, 1)} s`);

/** Forks `script`, says go, waits until `pending()` is false, says stop; the run's figures. */
async function measure(script, args, pending, finished) {
  const child = fork(`${here}${script}`, [JSON.stringify(args)], { execArgv: process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [] });
  await new Promise((r) => child.once("message", r));
  const [pg0, rx0] = [postgresTicks(), (await receiverStats()).cpu];
  child.send("go");
  const deadline = Date.now() + 20 * 60_000;
  while (await pending()) {
    if (Date.now() > deadline) throw new Error(`${script}: not finished after 20 minutes`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const [pg1, rx1] = [postgresTicks(), (await receiverStats()).cpu];
  const done = new Promise((r) => child.once("message", r));
  child.send("stop");
  const { t0, cpu } = await done;
  const { end, count, p50: lat50, p95: lat95 } = (await monitor.query(finished)).rows[0];
  const seconds = (Number(end) - t0) / 1000;
  return {
    count: Number(count),
    seconds,
    rate: Number(count) / seconds,
    lat50: Number(lat50),
    lat95: Number(lat95),
    cpu: { worker: cpuSeconds(cpu), postgres: postgresCpuSeconds(pg0, pg1), receiver: cpuSeconds({ user: rx1.user - rx0.user, system: rx1.system - rx0.system }) },
  };
}

const ours = await measure(
  "worker-ours.mjs",
  { url, secretsKey: SECRETS_KEY, concurrency: CONCURRENCY },
  async () => (await monitor.query("SELECT EXISTS (SELECT 1 FROM webhook_messages WHERE expanded_at IS NULL) OR EXISTS (SELECT 1 FROM webhook_deliveries WHERE finished_at IS NULL) AS p")).rows[0].p,
  `SELECT extract(epoch FROM (SELECT max(finished_at) FROM webhook_deliveries)) * 1000 AS end,
          (SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded') AS count,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - started_at) * 1000) AS p50,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - started_at) * 1000) AS p95
   FROM webhook_attempts WHERE outcome = 'ok'`,
);
// Where a batch's time goes: attempts recorded in one transaction share `created_at`.
const batches = (
  await monitor.query(`
    WITH b AS (SELECT created_at AS rec, count(*) AS n, min(started_at) AS s0, max(started_at + duration_ms * interval '1 ms') AS s1
               FROM webhook_attempts GROUP BY created_at),
         l AS (SELECT *, lag(rec) OVER (ORDER BY rec) AS prev FROM b)
    SELECT count(*) AS batches, avg(n) AS n, avg(extract(epoch FROM s1 - s0) * 1000) AS http,
           avg(extract(epoch FROM s0 - prev) * 1000) AS between, avg(extract(epoch FROM rec - s1) * 1000) AS toRecord
    FROM l WHERE prev IS NOT NULL`)
).rows[0];
const peer = await measure(
  "worker-pgboss.mjs",
  { url, origin, batchSize: CONCURRENCY },
  async () => (await monitor.query("SELECT EXISTS (SELECT 1 FROM pgboss.job WHERE name = $1 AND state < 'completed') AS p", [QUEUE])).rows[0].p,
  `SELECT extract(epoch FROM max(completed_on)) * 1000 AS end, count(*) AS count,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_on - started_on) * 1000) AS p50,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_on - started_on) * 1000) AS p95
   FROM pgboss.job WHERE name = '${QUEUE}' AND state = 'completed'`,
);
const received = (await receiverStats()).count;
const expected = 2 * MESSAGES * ENDPOINTS;
if (ours.count !== MESSAGES * ENDPOINTS || peer.count !== MESSAGES * ENDPOINTS || received !== expected) {
  throw new Error(`incomplete run: ours ${ours.count}, pg-boss ${peer.count}, received ${received} of ${expected}`);
}
for (const [name, r] of [["ours", ours], ["pg-boss", peer]]) {
  const total = r.cpu.worker + r.cpu.postgres + r.cpu.receiver;
  console.log(
    `${name}: ${f(r.count)} deliveries in ${f(r.seconds, 2)} s = ${f(r.rate)}/s; record latency p50 ${f(r.lat50, 1)} ms p95 ${f(r.lat95, 1)} ms; ` +
      `CPU s worker ${f(r.cpu.worker, 1)} postgres ${f(r.cpu.postgres, 1)} receiver ${f(r.cpu.receiver, 1)} (postgres ${f((100 * r.cpu.postgres) / total)} %)`,
  );
}

console.log(
  `ours per batch (${f(Number(batches.batches))} batches of ${f(Number(batches.n))}): requests ${f(Number(batches.http), 1)} ms from first start to last response, ` +
    `then ${f(Number(batches.torecord), 1)} ms to the record transaction, ${f(Number(batches.between), 1)} ms from it to the next batch's first request (record, expand, claim, sign)`,
);

await boss.stop({ graceful: false, wait: true });
receiver.send("stop");
await pool.end();
await monitor.end();
// BENCH_KEEP=1 leaves the database for inspection (pg_stat_statements, EXPLAIN).
if (!process.env.BENCH_KEEP) await a.query("DROP DATABASE bench_webhooks WITH (FORCE)");
await a.end();
console.log(`webhooks deliveries ours/pgboss=${f(ours.rate / peer.rate, 2)} enqueue ours/pgboss=${f(added.ours / added.pgboss, 2)}`);
