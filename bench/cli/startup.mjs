// Start-up cost against the reference, measured side by side (runs interleaved, medians):
//   help            `better-tenant --help` from node_modules/.bin, process start to exit
//   first-response  a Hono + Drizzle + node-postgres ESM app with tenant scoping (bench/tenant/
//                   server.mjs), process start to the first GET /projects answered
//   import          `import("@usebetterdev/tenant")` + `import("@usebetterdev/audit")` in a
//                   fresh process, timed inside it
// The reference is installed under aliases in bench/.ref by bench/cli.sh.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import core from "@usebetter-rs/core";

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const root = fileURLToPath(new URL("../..", import.meta.url));
const refDir = `${root}bench/.ref/`;
const bins = { ours: `${root}node_modules/.bin/better-tenant`, ref: `${refDir}node_modules/.bin/better-tenant` };
const fixture = (name) => readFileSync(`${root}js-tests/fixtures/${name}`, "utf8");
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `measure(variant)` RUNS times for each variant, alternating, after one warm-up each. */
async function sideBySide(measure) {
  const samples = { ours: [], ref: [] };
  for (const v of ["ours", "ref"]) await measure(v);
  for (let i = 0; i < RUNS; i++) for (const v of ["ours", "ref"]) samples[v].push(await measure(v));
  return { ours: median(samples.ours), ref: median(samples.ref) };
}

function help(variant) {
  const start = process.hrtime.bigint();
  const r = spawnSync(bins[variant], ["--help"], { encoding: "utf8" });
  const t = ms(start);
  if (r.status !== 0 || !r.stdout.startsWith("Usage: ")) throw new Error(`${variant} --help: ${r.stderr}${r.stdout}`);
  return t;
}

// One database per variant, each with its own package's migration, one tenant and 20 rows.
async function database(variant) {
  const name = `bench_startup_${variant}_${process.pid}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/${name}`;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  await c.query(fixture("schema.sql"));
  await c.query(variant === "ref" ? fixture("reference-migration.sql") : core.generateMigrationSql({ tenantTables: ["projects", "tasks"] }));
  await c.query("BEGIN; SELECT set_config('app.bypass_rls', 'true', true)");
  const { rows } = await c.query("INSERT INTO tenants (name, slug) VALUES ('Acme', 'acme') RETURNING id::text");
  await c.query("INSERT INTO projects (tenant_id, name) SELECT $1, 'p' || g FROM generate_series(1, 20) g", [rows[0].id]);
  await c.query("COMMIT");
  await c.end();
  return { name, url: url.toString(), tenant: rows[0].id };
}

// Below the kernel's ephemeral range, as in bench/tenant/run.mjs.
let port = 21500;
async function firstResponse(variant, dbs) {
  const env = { ...process.env, NODE_ENV: "production", BENCH_URL_OURS: dbs.ours.url, BENCH_URL_REF: dbs.ref.url };
  const p = port++;
  const start = process.hrtime.bigint();
  const server = spawn(process.execPath, [`${root}bench/tenant/server.mjs`, variant, String(p)], { env, stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise((resolve, reject) => {
      server.stdout.on("data", (d) => String(d).includes("ready") && resolve());
      server.on("exit", (code) => reject(new Error(`${variant} server exited with ${code}`)));
    });
    const res = await fetch(`http://127.0.0.1:${p}/projects`, { headers: { "x-tenant-id": dbs[variant].tenant } });
    const rows = await res.json();
    const t = ms(start);
    if (!Array.isArray(rows) || rows.length !== 20) throw new Error(`${variant}: expected 20 rows, got ${JSON.stringify(rows).slice(0, 200)}`);
    return t;
  } finally {
    server.kill();
    await new Promise((resolve) => (server.exitCode !== null ? resolve() : server.once("exit", resolve)));
  }
}

function imports(variant) {
  const names = variant === "ref" ? ["ref-tenant", "ref-audit"] : ["@usebetterdev/tenant", "@usebetterdev/audit"];
  const script = `const { createRequire } = require("node:module"); const r = createRequire(${JSON.stringify(variant === "ref" ? `${refDir}package.json` : `${root}bench/package.json`)});
    const t0 = performance.now(); ${names.map((n) => `r(${JSON.stringify(n)});`).join(" ")} console.log(performance.now() - t0);`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${variant} import: ${r.stderr}`);
  return Number(r.stdout);
}

const dbs = { ours: await database("ours"), ref: await database("ref") };
try {
  const h = await sideBySide(help);
  const f = await sideBySide((v) => firstResponse(v, dbs));
  const i = await sideBySide(imports);
  const line = (what, x) => `${what.padEnd(58)} ${x.ours.toFixed(1).padStart(7)} ms ${x.ref.toFixed(1).padStart(10)} ms`;
  console.log(`start-up, median of ${RUNS} interleaved runs; ours/ref = our time / the reference's time (lower is better, <= 1.00 is the target)`);
  console.log(`${"".padEnd(58)} ${"ours".padStart(10)} ${"reference".padStart(13)}`);
  console.log(line("better-tenant --help (node_modules/.bin, start to exit)", h));
  console.log(line("app cold start to first response (Hono + Drizzle, tenant)", f));
  console.log(line("require tenant + audit (in a fresh process)", i));
  const ratio = (x) => (x.ours / x.ref).toFixed(2);
  console.log(`cli help ours/ref=${ratio(h)}`);
  console.log(`cli first-response ours/ref=${ratio(f)}`);
  console.log(`cli import ours/ref=${ratio(i)}`);
} finally {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  for (const db of Object.values(dbs)) await admin.query(`DROP DATABASE ${db.name} WITH (FORCE)`);
  await admin.end();
}
