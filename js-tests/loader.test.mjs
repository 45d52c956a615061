// suite: once (scripts/test.sh runs it once; the others run on each backend)
// The loader: automatic fallback to wasm, the env override, and a failure that lists attempts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const pkgDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");
let dir;

/** Loads a copy of the package in a child process and reports what happened. */
function load(copy, env) {
  const script = `try { const c = require(${JSON.stringify(copy)}); console.log(JSON.stringify({ backend: c.backend, attempts: c.loadAttempts.map((a) => a.backend), sql: c.generateAddTableSql("t", {}).length > 0 })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const env2 = { ...process.env, ...env };
  if (!("USEBETTER_BINDING" in env)) delete env2.USEBETTER_BINDING;
  const r = spawnSync(process.execPath, ["-e", script], { env: env2, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { ...JSON.parse(r.stdout), ...(r.stderr ? { warning: r.stderr.split("\n")[0] } : {}) };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "usebetter-loader-"));
  cpSync(pkgDir, join(dir, "full"), { recursive: true });
  cpSync(pkgDir, join(dir, "no-native"), { recursive: true });
  rmSync(join(dir, "no-native", "native"), { recursive: true, force: true });
  // As on a platform for which no addon package is published.
  cpSync(join(dir, "no-native"), join(dir, "unpublished"), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, "unpublished", "package.json"), "utf8"));
  writeFileSync(join(dir, "unpublished", "package.json"), JSON.stringify({ ...manifest, optionalDependencies: {} }));
  cpSync(pkgDir, join(dir, "nothing"), { recursive: true });
  rmSync(join(dir, "nothing", "native"), { recursive: true, force: true });
  rmSync(join(dir, "nothing", "wasm"), { recursive: true, force: true });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("native is preferred when it loads", () => {
  assert.deepEqual(load(join(dir, "full"), {}), { backend: "native", attempts: [], sql: true });
});

test("falls back to wasm when the addon is missing, and says why, what it costs and how to get the addon", () => {
  const r = load(join(dir, "no-native"), {});
  assert.deepEqual({ ...r, warning: undefined }, { backend: "wasm", attempts: ["native"], sql: true, warning: undefined });
  assert.match(r.warning, /USEBETTER_WASM_FALLBACK.*using the WebAssembly build \(no native addon for this platform is installed\)\. /);
  assert.match(r.warning, /It is slower than the native addon, and the better-tenant and better-audit commands need the native one; /);
  assert.match(r.warning, /to use the native addon, run `npm install --include=optional` \(it is the optional dependency @usebetter-rs\/core-linux-x64-gnu\) or `npm install @usebetter-rs\/core-linux-x64-gnu`\. /);
  assert.match(r.warning, /Set USEBETTER_BINDING=wasm to choose the WebAssembly build without this warning\.$/);
  assert.equal(load(join(dir, "full"), { USEBETTER_BINDING: "wasm" }).warning, undefined, "a chosen backend is not warned about");
});

test("where no addon package is published for the platform, the warning says so instead of an install command", () => {
  const r = load(join(dir, "unpublished"), {});
  assert.equal(r.backend, "wasm");
  assert.match(r.warning, /It is slower than the native addon.*; no native addon is published for linux-x64 \(@usebetter-rs\/core-linux-x64-gnu\)\. Set USEBETTER_BINDING=wasm/);
  assert.doesNotMatch(r.warning, /npm install/);
});

test("USEBETTER_BINDING forces a backend", () => {
  assert.equal(load(join(dir, "full"), { USEBETTER_BINDING: "wasm" }).backend, "wasm");
  assert.equal(load(join(dir, "full"), { USEBETTER_BINDING: "native" }).backend, "native");
});

test("a forced backend that cannot load is an error, not a silent fallback", () => {
  const r = load(join(dir, "no-native"), { USEBETTER_BINDING: "native" });
  assert.equal(r.code, "BINDING_LOAD_FAILED");
  assert.match(r.message, /USEBETTER_BINDING=native/);
  assert.match(r.message, /- native: /);
  assert.doesNotMatch(r.message, /- wasm: /);
});

test("when nothing loads, every attempt is listed", () => {
  const r = load(join(dir, "nothing"), {});
  assert.equal(r.code, "BINDING_LOAD_FAILED");
  assert.match(r.message, /- native: .*\n\s+- wasm: /);
});

test("an unknown override value is rejected by name", () => {
  const r = load(join(dir, "full"), { USEBETTER_BINDING: "fast" });
  assert.equal(r.code, "INVALID_CONFIG");
  assert.match(r.message, /USEBETTER_BINDING must be "native" or "wasm", got "fast"/);
});

test("requireNative names the tool and the build that was loaded instead", () => {
  const script = `const c = require(${JSON.stringify(join(dir, "full"))});
    try { c.requireNative("better-audit"); console.log("no error"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    console.log(typeof c.requireNative === "function" && c.backend);`;
  const wasm = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, USEBETTER_BINDING: "wasm" }, encoding: "utf8" });
  const [err] = wasm.stdout.trim().split("\n");
  assert.deepEqual(JSON.parse(err), { code: "BINDING_LOAD_FAILED", message: "better-audit needs the native addon, but the wasm build was loaded" });
  const native = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, USEBETTER_BINDING: "native" }, encoding: "utf8" });
  assert.deepEqual(native.stdout.trim().split("\n"), ["no error", "native"]);
  // Fallen back (not chosen): the error names the install command.
  const env = { ...process.env };
  delete env.USEBETTER_BINDING;
  const fallback = spawnSync(process.execPath, ["-e", script.replace(JSON.stringify(join(dir, "full")), JSON.stringify(join(dir, "no-native")))], { env, encoding: "utf8" });
  const { code, message } = JSON.parse(fallback.stdout.split("\n")[0]);
  assert.equal(code, "BINDING_LOAD_FAILED");
  assert.match(message, /^better-audit needs the native addon, but the wasm build was loaded \(native: Cannot find module '@usebetter-rs\/core-linux-x64-gnu'\); to use the native addon, run `npm install --include=optional` \(it is the optional dependency @usebetter-rs\/core-linux-x64-gnu\) or `npm install @usebetter-rs\/core-linux-x64-gnu`$/);
});

test("the binding loads on first use: importing the libraries loads no compiled code", () => {
  const script = `const compiled = () => Object.keys(require.cache).filter((k) => k.endsWith(".node") || k.endsWith("usebetter_wasm.js")).length;
    for (const m of ["@usebetterdev/tenant", "@usebetterdev/tenant/hono", "@usebetterdev/audit", "@usebetterdev/audit/drizzle"]) require(m);
    const atImport = compiled();
    const core = require("@usebetter-rs/core");
    const atRequire = compiled();
    console.log(JSON.stringify({ atImport, atRequire, backend: core.backend, atUse: compiled(), keys: Object.keys(core).length }));`;
  for (const backend of ["native", "wasm"]) {
    const r = spawnSync(process.execPath, ["-e", script], { cwd: new URL(".", import.meta.url), env: { ...process.env, USEBETTER_BINDING: backend }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual({ ...out, keys: out.keys > 30 }, { atImport: 0, atRequire: 0, backend, atUse: 1, keys: true }, backend);
  }
  // A bad override is still refused when the package is required, before anything is used.
  const bad = spawnSync(process.execPath, ["-e", `try { require("@usebetter-rs/core"); console.log("loaded"); } catch (e) { console.log(e.code); }`], {
    cwd: new URL(".", import.meta.url),
    env: { ...process.env, USEBETTER_BINDING: "fast" },
    encoding: "utf8",
  });
  assert.equal(bad.stdout.trim(), "INVALID_CONFIG");
});

test("an ESM app gets the Drizzle entry built on its own ESM drizzle-orm, not a second CommonJS copy", () => {
  assert.ok(process.env.DATABASE_URL, "DATABASE_URL (scripts/pg.sh up) is needed");
  const script = `import { getTableName, is, sql } from "drizzle-orm";
    import { PgTable, pgTable, serial } from "drizzle-orm/pg-core";
    import { createRequire } from "node:module";
    import { drizzleDatabase, tenantsTable, tenantId } from "@usebetterdev/tenant/drizzle";
    const require = createRequire(import.meta.url);
    const cjs = require("@usebetterdev/tenant/drizzle");
    const table = pgTable("t", { id: serial("id"), ...tenantId });
    console.log(JSON.stringify({
      esmTable: is(tenantsTable, PgTable) && getTableName(tenantsTable),
      column: table.tenantId.name,
      drizzleDatabase: typeof drizzleDatabase,
      sameContract: cjs.tenantsTable !== tenantsTable && getTableName(cjs.tenantsTable) === getTableName(tenantsTable),
    }));`;
  // drizzle-orm's CommonJS modules in require.cache, after importing only the ESM entry.
  // A scope on node-postgres as well: its transaction class comes from the same ESM copy.
  const probe = `import { createRequire } from "node:module"; import pg from "pg";
    import { sql } from "drizzle-orm"; import { drizzle } from "drizzle-orm/node-postgres";
    import { betterTenant } from "@usebetterdev/tenant"; import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    const tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
    const got = await tenant.runAsSystem(async (tx) => (await tx.execute(sql\`SELECT current_setting('app.bypass_rls', true) AS b\`)).rows[0].b);
    await pool.end();
    const require = createRequire(import.meta.url);
    console.log(got, Object.keys(require.cache).filter((k) => k.includes("drizzle-orm")).length);`;
  const cwd = new URL(".", import.meta.url);
  const first = spawnSync(process.execPath, ["--input-type=module", "-e", probe], { cwd, encoding: "utf8" });
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout.trim(), "true 0", "drizzle-orm's CommonJS build was loaded by the ESM entry");
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { esmTable: "tenants", column: "tenant_id", drizzleDatabase: "function", sameContract: true });
});
