// better-tenant at scale: `migrate` for 1,000 tables and `check` on a database with 1,000
// tenant tables, timed end to end (process start to exit) as a user runs them.
// Run with bench/cli.sh, which builds the release addon and starts PostgreSQL.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import pg from "pg";
import core from "@usebetter-rs/core";

const require = createRequire(import.meta.url);
const bin = require.resolve("@usebetterdev/tenant-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
const N = 1000;
const RUNS = 5;
const tables = Array.from({ length: N }, (_, i) => `t${String(i).padStart(4, "0")}`);

function timeCli(args) {
  const samples = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    last = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (last.status !== 0 && !args.includes("check")) throw new Error(last.stderr);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(RUNS / 2)], out: last };
}

const baseline = timeCli(["--version"]).median;
const inProcess = (() => {
  const start = process.hrtime.bigint();
  const sql = core.generateMigrationSql({ tenantTables: tables });
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, bytes: sql.length };
})();
const migrate = timeCli(["migrate", "--dry-run", "--tables", tables.join(",")]);

const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
const dbName = `bench_cli_${process.pid}`;
await admin.query(`CREATE DATABASE ${dbName}`);
await admin.end();
const url = new URL(process.env.DATABASE_URL);
url.pathname = `/${dbName}`;
// The tables belong to another role than the app's (the superuser here), as `check` requires:
// an owner could TRUNCATE them or turn RLS off.
const ownerUrl = new URL(process.env.ADMIN_DATABASE_URL);
ownerUrl.pathname = `/${dbName}`;
const db = new pg.Client({ connectionString: ownerUrl.toString() });
await db.connect();
await db.query("CREATE TABLE tenants (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())");
for (let i = 0; i < N; i += 100) {
  const ddl = tables.slice(i, i + 100).map((t) => `CREATE TABLE ${t} (id serial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants(id), v text);`);
  await db.query(ddl.join("\n"));
}
await db.query(core.generateMigrationSql({ tenantTables: tables }));
await db.query("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app");
await db.end();
const check = timeCli(["check", "--database-url", url.toString(), "--tables", tables.join(",")]);
const checks = /All (\d+) checks passed/.exec(check.out.stdout)?.[1];
const checkOk = check.out.status === 0 && Number(checks) > N * 11;

const c2 = new pg.Client({ connectionString: process.env.DATABASE_URL });
await c2.connect();
await c2.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
await c2.end();

const r = (x) => x.toFixed(1);
console.log(`node start-up (better-tenant --version, which loads no addon): ${r(baseline)} ms`);
console.log(`migrate, ${N} tables: in-process ${r(inProcess.ms)} ms (${inProcess.bytes} bytes of SQL), CLI end to end ${r(migrate.median)} ms (target < 100)`);
console.log(`check, ${N} tenant tables: CLI end to end ${r(check.median)} ms, ${checkOk ? `all ${checks} checks passed` : "UNEXPECTED RESULT"} (target < 3000)`);
console.log(`cli migrate1000=${Math.round(migrate.median)}ms check1000=${Math.round(check.median)}ms`);
if (!checkOk) {
  console.error(`check exited with ${check.out.status}:\n${check.out.stdout.split("\n").slice(-12).join("\n")}${check.out.stderr}`);
  process.exitCode = 1;
}
