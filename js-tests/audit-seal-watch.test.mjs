// suite: once (scripts/test.sh runs it once; the others run on each backend)
// Deferred sealing: the application writes entries unsealed (no lock, no key in the app) and
// `better-audit seal --watch` seals them shortly after they commit, through a lost connection,
// next to writers that seal as they write; `verify --allow-unsealed` tolerates the window.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { runWithTenant } from "@usebetterdev/tenant";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";
import { runCli } from "@usebetterdev/audit-cli";
import { admin, connectAs, freshDatabase, requireEnv } from "./helpers/db.mjs";

const port = new URL(requireEnv("DATABASE_URL")).port;
const KEY = "seal-key-kept-outside-the-database";
const bin = createRequire(import.meta.url).resolve("@usebetterdev/audit-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
const dir = mkdtempSync(join(tmpdir(), "better-audit-watch-"));
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const cli = (url, args, env = {}) => runCli(args, { cwd: dir, config: null, env: { DATABASE_URL: url, ...env } });
const count = async (c, where) => (await c.query(`SELECT count(*)::int AS n FROM audit_logs WHERE ${where}`)).rows[0].n;
const until = async (what, check, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

function sealer(url, args) {
  const child = spawn(process.execPath, [bin, "seal", ...args], { cwd: dir, env: { ...process.env, DATABASE_URL: url, AUDIT_SEAL_KEY: KEY } });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (out.stdout += d));
  child.stderr.on("data", (d) => (out.stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, ...out })));
  cleanup.push(async () => child.exitCode === null && child.signalCode === null && (child.kill("SIGKILL"), await exited));
  return { child, out, exited };
}

async function setup(name) {
  const db = await freshDatabase(name);
  const c = await connectAs("app", "app", db.name);
  cleanup.push(() => db.drop(), () => c.end());
  const url = `postgres://app:app@127.0.0.1:${port}/${db.name}`;
  assert.equal((await cli(url, ["migrate"])).code, 0);
  return { url, c };
}

test("seal --watch seals what 8 writers leave unsealed on 3 chains, beside writers that seal as they write, and reconnects after its connection is killed", async () => {
  const { url, c } = await setup("awatch_main");
  const watch = sealer(url, ["--watch", "50"]);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  cleanup.push(() => pool.end());
  const deferred = betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: ["items"] });
  const inline = betterAudit({ database: drizzleAuditAdapter(drizzle(pool), { seal: { key: KEY } }), auditTables: ["items"] });
  const tenants = [undefined, "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"];
  const writes = async (from, to) =>
    Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = from + w; i < to; i += 8) {
          const audit = w === 0 ? inline : deferred;
          const write = () => audit.captureLog({ tableName: "items", operation: "UPDATE", recordId: String(i), before: { n: i }, after: { n: i + 1 } });
          const tenant = tenants[i % 3];
          await (tenant ? runWithTenant(tenant, write) : write());
        }
      }),
    );
  await writes(0, 300);
  await until("the first entries sealed", async () => (await count(c, "seq IS NOT NULL")) > 0);
  // The sealer's connection goes away mid-run (as in a restart): it says so and carries on.
  const a = await admin();
  cleanup.push(() => a.end());
  await until("the sealer's connection", async () => (await a.query("SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE application_name = 'better-audit seal --watch'")).rows.length > 0);
  await writes(300, 900);
  await until("every entry sealed", async () => (await count(c, "seq IS NULL")) === 0);
  assert.equal(await count(c, "true"), 900);
  assert.match(watch.out.stderr, /^sealing paused: the database connection was closed: .*; connecting again in \d+ ms$/m);
  // It reconnects by itself: the one-shot commands' advice to run them again is left out.
  assert.doesNotMatch(watch.out.stderr, /run the command again/);
  assert.equal(watch.child.exitCode, null, "still running");
  const report = JSON.parse((await cli(url, ["verify", "--json"], { AUDIT_SEAL_KEY: KEY })).stdout);
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.deepEqual(report.chains.map((ch) => [ch.chain, ch.rows, ch.mode]), [[null, 300, "keyed"], [tenants[1], 300, "keyed"], [tenants[2], 300, "keyed"]]);
  // One chain, no fork: seq 1..300 once each per chain, each entry's prev_hash its predecessor's hash.
  const forks = await c.query(`SELECT count(*)::int AS n FROM audit_logs a JOIN audit_logs b ON a.tenant_id IS NOT DISTINCT FROM b.tenant_id AND b.seq = a.seq + 1 WHERE b.prev_hash <> a.hash`);
  assert.equal(forks.rows[0].n, 0);
  watch.child.kill("SIGTERM");
  assert.equal((await watch.exited).signal, "SIGTERM");
  // A tampered entry sealed by the watcher is found like any other.
  await c.query("UPDATE audit_logs SET actor_id = 'mallory' WHERE seq = 150 AND tenant_id = $1", [tenants[2]]);
  const tampered = JSON.parse((await cli(url, ["verify", "--json", "--tenant", tenants[2]], { AUDIT_SEAL_KEY: KEY })).stdout);
  assert.deepEqual([tampered.ok, tampered.chains[0].break?.kind, tampered.chains[0].break?.seq], [false, "edited", 150]);
});

test("seal --watch --max-seconds stops on its own with the total; verify --allow-unsealed reports recent unsealed entries and fails old ones", async () => {
  const { url, c } = await setup("awatch_window");
  const insert = (ago) => c.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id) VALUES (now() - $1::float8 * interval '1 second', 'items', 'INSERT', '1')`, [ago]);
  await insert(0);
  await insert(0);
  const bounded = await sealer(url, ["--watch", "100", "--max-seconds", "1"]).exited;
  assert.deepEqual([bounded.code, bounded.stdout, bounded.stderr], [0, "sealed 2 entries (keyed)\n", ""]);
  await insert(0);
  const strict = await cli(url, ["verify"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(strict.code, 1);
  assert.match(strict.stdout, /^global: 1 entries are not sealed \(run `better-audit seal`\)$/m);
  const lenient = await cli(url, ["verify", "--allow-unsealed", "60"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(lenient.code, 0, lenient.stdout);
  assert.match(lenient.stdout, /^global: 2 entries intact \[keyed\]\nglobal: 1 entries written within --allow-unsealed are not sealed yet\nverification passed\n$/);
  assert.deepEqual(JSON.parse((await cli(url, ["verify", "--json", "--allow-unsealed", "60"], { AUDIT_SEAL_KEY: KEY })).stdout).chains[0], { chain: null, mode: "keyed", rows: 2, unsealed: 1, pending: 1, break: null });
  // Older than the window: the sealer is not keeping up (or not running), which fails.
  await insert(120);
  const late = await cli(url, ["verify", "--allow-unsealed", "60"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(late.code, 1);
  assert.match(late.stdout, /^global: 1 entries are not sealed \(run `better-audit seal`\)\nglobal: 1 entries written within --allow-unsealed are not sealed yet\nverification FAILED\n$/m);
});

test("a backlog larger than one sealing transaction is sealed in several, one chain without a gap, reported as one line", async () => {
  const { url, c } = await setup("awatch_backlog");
  await c.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id, after_data)
    SELECT now() - (12001 - g) * interval '1 millisecond', 'items', 'INSERT', g::text, jsonb_build_object('n', g) FROM generate_series(1, 12001) g`);
  const sealed = await cli(url, ["seal"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(sealed.stdout, "global: sealed 12001 entries (seq 1..12001)\nsealed 12001 entries (keyed)\n", sealed.stderr);
  // Sealed oldest first, across the batches' boundaries.
  const { rows } = await c.query("SELECT count(*)::int AS n FROM audit_logs WHERE seq <> record_id::bigint");
  assert.equal(rows[0].n, 0);
  const report = JSON.parse((await cli(url, ["verify", "--json"], { AUDIT_SEAL_KEY: KEY })).stdout);
  assert.deepEqual([report.ok, report.chains[0].rows, report.chains[0].break], [true, 12001, null]);
});

test("seal's watch options and verify's window are checked before connecting", async () => {
  const url = "postgres://nobody@127.0.0.1:1/none";
  for (const [args, message] of [
    [["seal", "--max-seconds", "5"], "--max-seconds bounds a sealer that keeps running: add --watch <ms>"],
    [["seal", "--watch", "1"], 'invalid --watch "1": expected a whole number from 10 to 3600000'],
    [["seal", "--watch", "100", "--max-seconds", "x"], 'invalid --max-seconds "x": expected a whole number from 1 to 31536000'],
    [["verify", "--allow-unsealed", "soon"], 'invalid --allow-unsealed "soon": expected seconds from 0 to 86400, e.g. 5 or 0.5'],
  ]) {
    const r = await cli(url, args, { AUDIT_SEAL_KEY: KEY });
    assert.deepEqual([r.code, r.errorCode, r.stderr.trim()], [1, "CLI_USAGE", message], args.join(" "));
  }
  // A sealer that cannot reach the database at start is a configuration error, not a wait.
  const r = await cli(url, ["seal", "--watch", "100"], { AUDIT_SEAL_KEY: KEY });
  assert.equal(r.errorCode, "DB_CONNECT");
});
