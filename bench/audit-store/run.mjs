// Measures, in one run: entries/s written through betterAudit without sealing, sealed as
// written, and sealed after commit by `better-audit seal --watch` (with how long entries wait
// unsealed), 8 in flight; `better-audit purge` of the oldest of 12 months on ROWS rows (partitioned vs plain),
// and first-page latency of audit.query() on ROWS rows. Run through bench/audit-store.sh.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";
import { runCli } from "@usebetterdev/audit-cli";

const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000);
const WRITES = Number(process.env.BENCH_WRITES ?? 4000);
const adminUrl = new URL(process.env.ADMIN_DATABASE_URL);
const admin = new pg.Client({ host: adminUrl.searchParams.get("host"), port: Number(adminUrl.searchParams.get("port")), user: "postgres", database: "postgres" });
await admin.connect();
const urlOf = (name) => {
  const u = new URL(process.env.DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
};
async function fresh(name) {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name} OWNER app`);
  return urlOf(name);
}
const cli = async (url, args) => {
  const r = await runCli(args, { config: null, env: { DATABASE_URL: url } });
  if (r.code !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

// 1. Write rate through the JavaScript pipeline (one audit row per captureLog): unsealed,
// sealed as written (`seal: { key }`: the chain's lock held to commit), and unsealed with the
// owner's `better-audit seal --watch 100` sealing after commit. For the last, the oldest
// unsealed entry's age is sampled every 20 ms: no entry waited longer than that.
const KEY = "bench-seal-key-kept-outside-the-database";
const bin = createRequire(import.meta.url).resolve("@usebetterdev/audit-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
const waits = [];
const drainMs = [];
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
/** `better-audit seal --watch 100` on `url`, and a connection that watches what it leaves. */
async function watcher(url) {
  const child = spawn(process.execPath, [bin, "seal", "--watch", "100"], { env: { ...process.env, DATABASE_URL: url, AUDIT_SEAL_KEY: KEY }, stdio: ["ignore", "ignore", "inherit"] });
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  return {
    /** Seconds the oldest unsealed entry has waited (0: none). */
    oldest: async () => Number((await probe.query(`SELECT coalesce(extract(epoch FROM clock_timestamp() - min("timestamp")), 0) AS s FROM audit_logs WHERE tenant_id IS NULL AND seq IS NULL`)).rows[0].s),
    /** Waits until every entry is sealed, then stops the sealer. */
    async drain() {
      while ((await probe.query("SELECT count(*)::int AS n FROM audit_logs WHERE seq IS NULL")).rows[0].n > 0) await pause(10);
      child.kill("SIGTERM");
      await probe.end();
    },
  };
}
async function writeRate(url, mode) {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  const audit = betterAudit({ database: drizzleAuditAdapter(drizzle(pool), mode === "sealed" ? { seal: { key: KEY } } : {}), auditTables: ["t"] });
  const one = (i) => audit.captureLog({ tableName: "t", operation: "UPDATE", recordId: String(i), before: { n: i, s: "x" }, after: { n: i + 1, s: "x" } });
  for (let i = 0; i < 200; i++) await one(i);
  let sealer, sampling;
  if (mode === "deferred") {
    sealer = await watcher(url);
    while ((await sealer.oldest()) > 0) await pause(20);
    sampling = true;
    (async () => {
      while (sampling) {
        waits.push(await sealer.oldest());
        await pause(20);
      }
    })();
  }
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 8 }, async () => { while (next < WRITES) await one(next++); }));
  const rate = WRITES / seconds(t0);
  await pool.end();
  if (sealer) {
    sampling = false;
    const drained = process.hrtime.bigint();
    await sealer.drain();
    drainMs.push(seconds(drained) * 1000);
  }
  return rate;
}
const wurl = await fresh("bench_store_writes");
await cli(wurl, ["migrate"]);
const rates = { plain: [], sealed: [], deferred: [] };
for (let r = 0; r < 3; r++) for (const k of ["plain", "sealed", "deferred"]) rates[k].push(await writeRate(wurl, k));
const plainRate = median(rates.plain);
const sealedRate = median(rates.sealed);
const deferredRate = median(rates.deferred);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] * 1000;
// The window at a set rate: 5,000 entries/s for 5 s (whatever is due inserted every few ms, no
// JavaScript pipeline, so the rate holds on this machine), sealed by `seal --watch 100`.
async function pacedWindow(url, perSecond, secondsLong) {
  const sealer = await watcher(url);
  const writer = new pg.Client({ connectionString: url });
  await writer.connect();
  const samples = [];
  const t0 = Date.now();
  let written = 0;
  let sampledAt = 0;
  while (Date.now() - t0 < secondsLong * 1000) {
    const due = Math.floor(((Date.now() - t0) / 1000) * perSecond);
    if (written < due) {
      const batch = due - written;
      await writer.query(`INSERT INTO audit_logs (table_name, operation, record_id, before_data, after_data) SELECT 't', 'UPDATE', g::text, jsonb_build_object('n', g, 's', 'x'), jsonb_build_object('n', g + 1, 's', 'x') FROM generate_series(1, $1::int) g`, [batch]);
      written += batch;
    }
    if (Date.now() - sampledAt >= 20) {
      sampledAt = Date.now();
      samples.push(await sealer.oldest());
    }
    await pause(2);
  }
  const rate = written / ((Date.now() - t0) / 1000);
  await sealer.drain();
  await writer.end();
  return { rate, samples };
}
const paced = await pacedWindow(wurl, 5000, 5);
// Rows written unsealed earlier are sealed by the last watcher, so every chain verifies.
const check = await runCli(["verify"], { config: null, env: { DATABASE_URL: wurl, AUDIT_SEAL_KEY: KEY } });
if (check.code !== 0) throw new Error(`verify after the deferred runs failed: ${check.stdout}${check.stderr}`);

// 2. ROWS rows over the last 12 months, in a partitioned and in a plain table.
async function load(url, partitioned) {
  await cli(url, partitioned ? ["migrate", "--partitioned", "--months", "1"] : ["migrate"]);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  if (partitioned) {
    for (let k = 1; k <= 12; k++) {
      await c.query(`DO $$ DECLARE f timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '${k} months'; BEGIN
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)', 'audit_logs_past_${k}', f, f + interval '1 month'); END $$`);
    }
  }
  const t0 = process.hrtime.bigint();
  const chunk = 500_000;
  for (let from = 0; from < ROWS; from += chunk) {
    await c.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id, actor_id, after_data)
      SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '12 months' + (g::float8 / ${ROWS} * interval '365 days'),
             CASE WHEN g % 10 = 0 THEN 'orders' ELSE 'users' END, 'UPDATE', g::text, 'actor-' || (g % 100), jsonb_build_object('n', g, 's', 'value')
      FROM generate_series(${from + 1}, ${Math.min(from + chunk, ROWS)}) g`);
  }
  await c.query("ANALYZE audit_logs");
  const loadSeconds = seconds(t0);
  return { c, loadSeconds };
}
const hoursToSecondMonth = async (c) =>
  Math.floor(Number((await c.query(`SELECT extract(epoch FROM now() - (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '11 months')) AS s`)).rows[0].s) / 3600);
const purge = {};
const firstPage = {};
for (const kind of ["partitioned", "plain"]) {
  const url = await fresh(`bench_store_${kind}`);
  const { c, loadSeconds } = await load(url, kind === "partitioned");
  console.log(`loaded ${ROWS} rows into the ${kind} table in ${loadSeconds.toFixed(0)} s`);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const audit = betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: ["users", "orders"] });
  const lat = { all: [], filtered: [] };
  for (let i = 0; i < 21; i++) {
    let t0 = process.hrtime.bigint();
    await audit.query().limit(50).list();
    lat.all.push(seconds(t0) * 1000);
    t0 = process.hrtime.bigint();
    await audit.query().resource("orders").actor("actor-10").limit(50).list();
    lat.filtered.push(seconds(t0) * 1000);
  }
  firstPage[kind] = { all: median(lat.all), filtered: median(lat.filtered) };
  await pool.end();
  const hours = await hoursToSecondMonth(c);
  const t0 = process.hrtime.bigint();
  const out = await cli(url, ["purge", "--yes", "--since", `${hours}h`]);
  purge[kind] = { seconds: seconds(t0), removed: Number(/total: (\d+)/.exec(out)[1]) };
  await c.end();
  await admin.query(`DROP DATABASE bench_store_${kind} WITH (FORCE)`);
}
await admin.query("DROP DATABASE bench_store_writes WITH (FORCE)");
await admin.end();

const f = (x, d = 0) => x.toFixed(d);
console.log(`writes (captureLog, 8 in flight, median of 3 x ${WRITES}): plain ${f(plainRate)}/s, sealed as written ${f(sealedRate)}/s, sealed after commit (seal --watch 100) ${f(deferredRate)}/s`);
console.log(`seal --watch 100: oldest unsealed entry, sampled every 20 ms while writing (${waits.length} samples): p50 ${f(pct(waits, 0.5))} ms, p99 ${f(pct(waits, 0.99))} ms, max ${f(pct(waits, 1))} ms; all sealed ${f(median(drainMs))} ms after the last write`);
console.log(`purge oldest month of 12 (${ROWS} rows): partitioned ${f(purge.partitioned.seconds, 2)} s (${purge.partitioned.removed} rows), plain ${f(purge.plain.seconds, 2)} s (${purge.plain.removed} rows)`);
console.log(`first page (50, median of 21) on ${ROWS} rows: partitioned ${f(firstPage.partitioned.all, 2)} ms / filtered ${f(firstPage.partitioned.filtered, 2)} ms; plain ${f(firstPage.plain.all, 2)} ms / filtered ${f(firstPage.plain.filtered, 2)} ms`);
console.log(`seal --watch 100 at ${f(paced.rate)} entries/s for 5 s (${paced.samples.length} samples): oldest unsealed entry p50 ${f(pct(paced.samples, 0.5))} ms, p99 ${f(pct(paced.samples, 0.99))} ms, max ${f(pct(paced.samples, 1))} ms`);
console.log(`audit-store sealed/plain=${f(deferredRate / plainRate, 2)} (as written ${f(sealedRate / plainRate, 2)}) unsealed-p99=${f(pct(paced.samples, 0.99))}ms@${f(paced.rate)}/s purge partitioned=${f(purge.partitioned.seconds, 2)}s plain=${f(purge.plain.seconds, 2)}s first-page=${f(firstPage.partitioned.all, 2)}ms`);
