// bench/tenant: this package vs the reference vs an unscoped baseline, by UUID and by slug,
// with wrk as the load generator in its own process. Run through bench/tenant.sh.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import core from "@usebetter-rs/core";
import { perOperation } from "../wire.mjs";

const TENANTS = 100;
// Hardened mode's key (32+ bytes); the bench database keeps it in better_tenant_private.
const HARDENED_KEY = "bench-hardened-key-0123456789abcdef";
const ROWS = 20;
const DURATION = process.env.BENCH_SECONDS ?? "4";
// Rounds interleave the variants so that drift on a busy machine hits all of them alike.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = 16;
const WIRE_PROBES = 200;
const wire = {};
const here = new URL(".", import.meta.url).pathname;
const adminUrl = new URL(process.env.ADMIN_DATABASE_URL);
const sock = adminUrl.searchParams.get("host");
const port = adminUrl.searchParams.get("port");
const urlFor = (user, db) => `postgresql://${user}@localhost/${db}?host=${encodeURIComponent(sock)}&port=${port}`;
const schema = readFileSync(new URL("../../js-tests/fixtures/schema.sql", import.meta.url), "utf8");
const refMigration = readFileSync(new URL("../../js-tests/fixtures/reference-migration.sql", import.meta.url), "utf8");

async function setup() {
  const admin = new pg.Client({ connectionString: urlFor("postgres", "postgres") });
  await admin.connect();
  for (const db of ["bench_ours", "bench_ref", "bench_hard"]) {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${db} OWNER app`);
  }
  await admin.end();
  const ids = [];
  const slugs = [];
  const hardened = `${core.generateMigrationSql({ tenantTables: ["projects", "tasks"], hardened: true })}
    INSERT INTO better_tenant_private.context_key (key) VALUES (convert_to('${HARDENED_KEY}', 'UTF8'));`;
  for (const [db, migration] of [
    ["bench_ours", core.generateMigrationSql({ tenantTables: ["projects", "tasks"] })],
    ["bench_ref", refMigration],
    ["bench_hard", hardened],
  ]) {
    const c = new pg.Client({ connectionString: urlFor("app", db) });
    await c.connect();
    await c.query(schema);
    await c.query("CREATE INDEX IF NOT EXISTS projects_tenant_id_idx ON projects (tenant_id)");
    await c.query(migration);
    await c.end();
    // Seeded by the superuser, whom no policy filters: the same rows in every database.
    const s = new pg.Client({ connectionString: urlFor("postgres", db) });
    await s.connect();
    await s.query("BEGIN");
    const { rows } = await s.query(
      `INSERT INTO tenants (id, name, slug) SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'T' || i, 't' || i FROM generate_series(1, ${TENANTS}) i RETURNING id::text, slug`,
    );
    await s.query(`INSERT INTO projects (tenant_id, name) SELECT t.id, t.slug || '-' || g FROM tenants t, generate_series(1, ${ROWS}) g`);
    await s.query("COMMIT; ANALYZE");
    await s.end();
    if (!ids.length) rows.forEach((r) => (ids.push(r.id), slugs.push(r.slug)));
  }
  return { ids, slugs };
}

// CPU time (s) of a process and of all PostgreSQL processes, from /proc (Linux; null elsewhere):
// where a request's cost lands, node or the server, beside its wall-clock rate.
const TICKS = 100; // USER_HZ
function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}
function cpuNow(pid) {
  try {
    let postgres = 0;
    for (const p of readdirSync("/proc")) {
      if (!/^\d+$/.test(p)) continue;
      try {
        if (readFileSync(`/proc/${p}/stat`, "utf8").includes("(postgres)")) postgres += cpuOf(p);
      } catch {} // gone meanwhile
    }
    return { node: cpuOf(pid), postgres };
  } catch {
    return null;
  }
}
const cpu = {};

function luaFor(values) {
  const file = join(tmpdir(), `bench-tenant-${values.length}-${values[0]}.lua`);
  writeFileSync(
    file,
    `local ids = { ${values.map((v) => JSON.stringify(v)).join(", ")} }\nlocal i = 0\nrequest = function()\n  i = i % #ids + 1\n  return wrk.format("GET", "/projects", { ["x-tenant-id"] = ids[i] })\nend\n`,
  );
  return file;
}

async function measure(mode, variant, values, httpPort) {
  const env = {
    ...process.env,
    BENCH_URL_OURS: urlFor("app", "bench_ours"),
    BENCH_URL_REF: urlFor("app", "bench_ref"),
    BENCH_URL_UNSCOPED: urlFor("postgres", "bench_ours"),
    BENCH_URL_HARDENED: urlFor("app", "bench_hard"),
    BENCH_URL_LANE: urlFor("app", "bench_ours"),
    BENCH_URL_LANECTX: urlFor("app", "bench_ours"),
    BENCH_HARDENED_KEY: HARDENED_KEY,
    NODE_ENV: "production",
    BETTER_TENANT_TELEMETRY: "0",
  };
  const flags = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(" ") : [];
  const server = spawn(process.execPath, [...flags, join(here, "server.mjs"), variant, String(httpPort)], { env, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    server.stdout.on("data", (d) => String(d).includes("ready") && resolve());
    server.on("exit", (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${httpPort}`;
  const probe = await fetch(`${base}/projects`, { headers: { "x-tenant-id": values[0] } });
  const rows = await probe.json();
  if (!Array.isArray(rows) || rows.length !== ROWS) throw new Error(`${variant}: expected ${ROWS} rows, got ${JSON.stringify(rows).slice(0, 200)}`);
  // What one request sends once every tenant was seen (lookups cached), one request at a time.
  const get = async (i) => (await fetch(`${base}/projects`, { headers: { "x-tenant-id": values[i % values.length] } })).arrayBuffer();
  for (let i = 0; i < values.length; i++) await get(i);
  const before = await (await fetch(`${base}/wire`)).json();
  for (let i = 0; i < WIRE_PROBES; i++) await get(i);
  wire[variant] = perOperation(before, await (await fetch(`${base}/wire`)).json(), WIRE_PROBES);
  const lua = luaFor(values);
  spawnSync("wrk", ["-t1", "-c", String(CONNECTIONS), "-d2s", "-s", lua, `http://127.0.0.1:${httpPort}`]); // warm-up
  const cpuBefore = cpuNow(server.pid);
  const out = spawnSync("wrk", ["-t1", "-c", String(CONNECTIONS), `-d${DURATION}s`, "-s", lua, `http://127.0.0.1:${httpPort}`], { encoding: "utf8" });
  const cpuAfter = cpuNow(server.pid);
  server.kill();
  await new Promise((resolve) => (server.exitCode !== null ? resolve() : server.once("exit", resolve)));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out.stdout)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out.stdout)?.[1];
  if (!rps || errors) throw new Error(`${variant}: wrk failed\n${out.stdout}${out.stderr}`);
  const requests = Number(/(\d+) requests in/.exec(out.stdout)?.[1]);
  if (cpuBefore && cpuAfter && requests) {
    const us = (k) => ((cpuAfter[k] - cpuBefore[k]) / requests) * 1e6;
    (cpu[`${mode}-${variant}`] ??= []).push({ node: us("node"), postgres: us("postgres") });
  }
  return rps;
}

const { ids, slugs } = await setup();
const samples = {};
const wires = {};
// Below the kernel's ephemeral range (32768-60999), so no client socket of an earlier round
// (wrk's, in TIME_WAIT or closing) can hold the port a server is about to listen on.
let httpPort = 21100;
for (let round = 0; round < ROUNDS; round++) {
  for (const [mode, values] of [["uuid", ids], ["slug", slugs]]) {
    // With BENCH_VARIANTS, BENCH_MODES=uuid (or slug) measures one mode only.
    if (process.env.BENCH_VARIANTS && process.env.BENCH_MODES && !process.env.BENCH_MODES.split(",").includes(mode)) continue;
    for (const variant of (process.env.BENCH_VARIANTS ?? "ours,ref,unscoped,hardened,lanectx").split(",")) {
      if (variant === "lane" && mode !== "uuid") continue; // resolves UUIDs only
      (samples[`${mode}-${variant}`] ??= []).push(await measure(mode, variant, values, httpPort++));
      wires[`${mode}-${variant}`] = wire[variant];
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]));
if (process.env.BENCH_VARIANTS) {
  console.log(results, wires, cpu);
  process.exit(0);
}
const r = (x) => x.toFixed(2);
console.log(`GET /projects (${ROWS} rows), ${TENANTS} tenants rotating, wrk -c${CONNECTIONS}, median of ${ROUNDS} x ${DURATION}s, requests/s:`);
console.log("mode   ours      reference  unscoped  ours hardened");
for (const mode of ["uuid", "slug"]) {
  console.log(
    `${mode.padEnd(6)} ${results[`${mode}-ours`].toFixed(0).padEnd(9)} ${results[`${mode}-ref`].toFixed(0).padEnd(10)} ${results[`${mode}-unscoped`].toFixed(0).padEnd(9)} ${results[`${mode}-hardened`].toFixed(0)}`,
  );
}
for (const mode of ["uuid", "slug"]) {
  console.log(`tenant-${mode} hardened/plain=${r(results[`${mode}-hardened`] / results[`${mode}-ours`])}`);
}
for (const mode of ["uuid", "slug"]) {
  for (const variant of ["ours", "ref", "unscoped", "hardened"]) console.log(`tenant-${mode} per request ${variant}: ${wires[`${mode}-${variant}`]}`);
}
// Per mode, the median over the rounds of each variant's CPU per request.
for (const mode of ["uuid", "slug"]) {
  for (const variant of ["ours", "ref", "unscoped", "hardened", "lanectx"]) {
    const xs = cpu[`${mode}-${variant}`];
    if (xs?.length) console.log(`tenant-${mode} cpu per request ${variant}: node=${median(xs.map((x) => x.node)).toFixed(0)}us postgres=${median(xs.map((x) => x.postgres)).toFixed(0)}us`);
  }
}
// The floor for this API (see server.mjs, `lanectx`): the bare scope protocol plus the
// AsyncLocalStorage context every request of it runs in; by slug, with every slug's id known.
for (const mode of ["uuid", "slug"]) {
  const floor = results[`${mode}-lanectx`];
  console.log(
    `tenant-${mode} floor lanectx=${floor.toFixed(0)} lanectx/unscoped=${r(floor / results[`${mode}-unscoped`])} lanectx/ref=${r(floor / results[`${mode}-ref`])} ours/lanectx=${r(results[`${mode}-ours`] / floor)}`,
  );
}
for (const mode of ["uuid", "slug"]) {
  console.log(`tenant-${mode} ours/ref=${r(results[`${mode}-ours`] / results[`${mode}-ref`])} ours/unscoped=${r(results[`${mode}-ours`] / results[`${mode}-unscoped`])}`);
}
