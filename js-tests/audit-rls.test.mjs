// audit_logs under the tenant tables' row-level security: with a `tenant` section in the config,
// `better-audit migrate` isolates the entries by tenant_id (plain, partitioned, and a table that
// already holds rows), the library's reads in a tenant scope return that tenant's entries only,
// the CLI still seals, verifies and purges every chain, and `better-tenant check` reports an
// audit_logs left without it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import core from "@usebetter-rs/core";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { runCli } from "@usebetterdev/audit-cli";
import { runCheck } from "@usebetterdev/tenant-cli/check";
import { fixture, inScope } from "./helpers/db.mjs";
import { projects, tenantDatabase } from "./helpers/app.mjs";

const KEY = "seal-key-kept-outside-the-database";
const TENANCY = { tenant: { tenantTables: ["projects", "tasks"] } };
const dir = mkdtempSync(join(tmpdir(), "better-audit-rls-"));
const envs = [];
after(async () => {
  for (const e of envs) await e.close();
});

async function database(prefix) {
  const env = await tenantDatabase(prefix, { poolSize: 2 });
  envs.push(env);
  return env;
}

const WASM = process.env.USEBETTER_BINDING === "wasm";
const bin = (pkg) => new URL(`../npm/${pkg}/bin/cli.mjs`, import.meta.url).pathname;

/** A CLI (native-only) in a child process on the addon, with `config` as better.config.json. */
function child(pkg, args, config, vars) {
  const cwd = mkdtempSync(join(tmpdir(), "better-audit-rls-"));
  if (config) writeFileSync(join(cwd, "better.config.json"), JSON.stringify(config));
  const childEnv = { ...process.env, ...vars, USEBETTER_BINDING: "native" };
  return new Promise((resolve) => {
    execFile(process.execPath, [bin(pkg), ...args], { cwd, env: childEnv }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** better-audit: in process, or on the wasm backend in a child process. */
function cli(env, args, config = TENANCY, extra = {}) {
  const vars = { DATABASE_URL: env.url, AUDIT_SEAL_KEY: KEY, ...extra };
  return WASM ? child("audit-cli", args, config, vars) : runCli(args, { cwd: dir, config, env: vars });
}

/** better-tenant check's results. */
async function checkResults(env) {
  if (!WASM) return (await runCheck(env.url, TENANCY.tenant)).results;
  const r = await child("tenant-cli", ["check", "--json", "--database-url", env.url], TENANCY, {});
  return JSON.parse(r.stdout).results;
}
const ok = async (env, args, config, extra) => {
  const r = await cli(env, args, config, extra);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

const TENANT = (id) => ({ "app.current_tenant": id });
const SYSTEM = { "app.bypass_rls": "true" };
const tenantsOf = async (env, settings, relation = "audit_logs") => {
  const c = await env.pool.connect();
  try {
    return await inScope(c, settings, async () =>
      (await c.query(`SELECT tenant_id FROM ${relation} ORDER BY tenant_id NULLS LAST`)).rows.map((r) => r.tenant_id),
    );
  } finally {
    c.release();
  }
};

async function assertIsolated(env, relation) {
  const { acme, globex } = env.ids;
  assert.deepEqual(await tenantsOf(env, TENANT(acme), relation), [acme], "a tenant scope sees only its own entries");
  assert.deepEqual(await tenantsOf(env, TENANT(globex), relation), [globex]);
  assert.deepEqual((await tenantsOf(env, SYSTEM, relation)).length, 3, "the system scope sees every entry");
  assert.deepEqual(await tenantsOf(env, {}, relation), [null], "without a tenant only the global entries");
}

const insertEntries = (env) =>
  env.pool.query(
    "BEGIN; SELECT set_config('app.bypass_rls', 'true', true); INSERT INTO audit_logs (table_name, operation, record_id, tenant_id) VALUES " +
      `('projects', 'INSERT', '1', '${env.ids.acme}'), ('projects', 'INSERT', '2', '${env.ids.globex}'), ('settings', 'UPDATE', '3', NULL); COMMIT`,
  );

test("migrate on an existing audit_logs with rows: RLS keyed on tenant_id, rows kept, writes checked", async () => {
  const env = await database("arls_upgrade");
  await env.pool.query(fixture("audit-logs.sql"));
  await insertEntries(env);
  assert.match(await ok(env, ["migrate", "--dry-run"]), /FORCE ROW LEVEL SECURITY/);
  assert.match(await ok(env, ["migrate"]), /applied: audit_logs table/);
  await ok(env, ["migrate"]);
  const { rows } = await env.pool.query(
    "SELECT relname::text, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ('audit_logs', 'audit_chain_checkpoints') ORDER BY 1",
  );
  assert.deepEqual(rows.map((r) => [r.relname, r.relrowsecurity, r.relforcerowsecurity]), [
    ["audit_chain_checkpoints", true, true],
    ["audit_logs", true, true],
  ]);
  await assertIsolated(env);
  const c = await env.pool.connect();
  try {
    const insert = (tenant) =>
      c.query("INSERT INTO audit_logs (table_name, operation, record_id, tenant_id) VALUES ('projects', 'INSERT', 'x', $1)", [tenant]);
    await inScope(c, TENANT(env.ids.acme), async () => {
      await c.query("SAVEPOINT s");
      await assert.rejects(insert(env.ids.globex), /row-level security/);
      await c.query("ROLLBACK TO s");
      await assert.rejects(insert(null), /row-level security/, "a tenant scope writes no global entry");
      await c.query("ROLLBACK TO s");
      await insert(env.ids.acme);
    });
    await inScope(c, {}, () => insert(null));
  } finally {
    c.release();
  }
});

test("migrate --partitioned: the parent and every partition are isolated; ensure-partitions covers new ones", async () => {
  const env = await database("arls_parts");
  await ok(env, ["migrate", "--partitioned", "--months", "1"]);
  await insertEntries(env);
  await assertIsolated(env);
  const [, , { rows: parts }] = await env.pool.query(
    "BEGIN; SELECT set_config('app.bypass_rls', 'true', true); SELECT DISTINCT tableoid::regclass::text AS part FROM audit_logs; COMMIT",
  );
  assert.equal(parts.length, 1);
  await assertIsolated(env, parts[0].part);
  await ok(env, ["ensure-partitions", "--months", "4"]);
  const { rows } = await env.pool.query(
    "SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_logs'::regclass AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
  );
  assert.equal(rows[0].n, 0, "every partition is under FORCE ROW LEVEL SECURITY");
});

test("audit.query() and export() in a tenant scope return only that tenant's entries; a sealed chain written from tenant scopes verifies", async () => {
  const env = await database("arls_query");
  await ok(env, ["migrate"]);
  const sealed = drizzleAuditAdapter(env.db, { seal: { key: KEY } });
  const audit = betterAudit({ database: sealed, auditTables: ["projects"] });
  const tenant = betterTenant({ database: drizzleDatabase(withAuditProxy(env.db, audit.captureLog)), tenantResolver: { header: "x-tenant-id" } });
  for (const slug of ["acme", "globex", "acme"]) {
    await tenant.runAs(env.ids[slug], async (db) => {
      await db.insert(projects).values({ name: `${slug}-audited` });
    });
  }
  await audit.captureLog({ tableName: "projects", operation: "UPDATE", recordId: "global-1" });
  const listed = (slug) =>
    tenant.runAs(env.ids[slug], async (db) => (await betterAudit({ database: drizzleAuditAdapter(db), auditTables: ["projects"] }).query().list()).entries);
  const acme = await listed("acme");
  assert.deepEqual(acme.map((e) => e.tenantId), [env.ids.acme, env.ids.acme]);
  assert.deepEqual((await listed("globex")).map((e) => e.tenantId), [env.ids.globex]);
  const exportedInScope = await tenant.runAs(env.ids.globex, (db) =>
    betterAudit({ database: drizzleAuditAdapter(db), auditTables: ["projects"] }).export({ format: "csv", output: "string" }),
  );
  assert.equal(exportedInScope.rowCount, 1, "export in a tenant scope: that tenant's entries only");
  assert.equal((await tenant.runAsSystem(async (db) => (await betterAudit({ database: drizzleAuditAdapter(db), auditTables: ["projects"] }).query().list()).entries)).length, 4);
  const verified = await ok(env, ["verify"]);
  assert.match(verified, new RegExp(`tenant ${env.ids.acme}: 2 entries intact`));
  assert.match(verified, new RegExp(`tenant ${env.ids.globex}: 1 entries intact`));
  assert.match(verified, /global: 1 entries intact/);
  // Unsealed entries (trigger capture) are sealed by the CLI into their tenants' chains.
  await env.pool.query(
    `BEGIN; SELECT set_config('app.current_tenant', '${env.ids.globex}', true); INSERT INTO audit_logs (table_name, operation, record_id, tenant_id) VALUES ('projects', 'DELETE', '9', '${env.ids.globex}'); COMMIT`,
  );
  assert.match(await ok(env, ["seal"]), new RegExp(`tenant ${env.ids.globex}: sealed 1 entries \\(seq 2..2\\)`));
  assert.match(await ok(env, ["verify"]), new RegExp(`tenant ${env.ids.globex}: 2 entries intact`));
  assert.match(await ok(env, ["stats"]), /projects/);
  // export streams the entries to the process's stdout and counts them on stderr.
  const exported = await cli(env, ["export", "--format", "csv", "--since", "1h"]);
  assert.match(exported.stderr, /exported 5 entries/, "export runs in the system scope");
  // Purge sees every chain's old entries, not only the global ones.
  await env.pool.query(
    "BEGIN; SELECT set_config('app.bypass_rls', 'true', true); INSERT INTO audit_logs (\"timestamp\", table_name, operation, record_id, tenant_id) " +
      `VALUES (now() - interval '10 days', 'projects', 'INSERT', 'old-1', '${env.ids.acme}'), (now() - interval '10 days', 'projects', 'INSERT', 'old-2', NULL); COMMIT`,
  );
  assert.match(await ok(env, ["purge", "--since", "5d", "--dry-run"]), /total: 2/);
  assert.match(await ok(env, ["purge", "--since", "5d", "--yes"]), /total: 2/);
  assert.equal((await tenantsOf(env, SYSTEM)).length, 5);
});

test("better-tenant check reports an audit_logs without tenant RLS", async () => {
  const env = await database("arls_check");
  await env.pool.query(fixture("audit-logs.sql"));
  const name = "public.audit_logs isolated by tenant";
  const before = (await checkResults(env)).find((r) => r.check === name);
  assert.equal(before?.passed, false);
  assert.match(before.remediation, /better-audit migrate/);
  await ok(env, ["migrate"]);
  const afterMigrate = (await checkResults(env)).find((r) => r.check === name);
  assert.equal(afterMigrate?.passed, true);
});

test("without a tenant section migrate leaves audit_logs as it was", async () => {
  const env = await database("arls_none");
  await ok(env, ["migrate"], null);
  const { rows } = await env.pool.query("SELECT relrowsecurity FROM pg_class WHERE relname = 'audit_logs'");
  assert.equal(rows[0].relrowsecurity, false);
});

test("hardened mode: only signed scopes count; the CLI signs its system scope with the tenant key", async () => {
  const HKEY = "audit-rls-hardened-key-0123456789abcdef";
  const env = await database("arls_hard");
  await env.pool.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"], hardened: true }));
  await env.pool.query("INSERT INTO better_tenant_private.context_key (key) VALUES (convert_to($1, 'UTF8'))", [HKEY]);
  await env.pool.query(fixture("audit-logs.sql"));
  await insertEntries(env);
  const config = { tenant: { tenantTables: ["projects", "tasks"], hardened: true } };
  await ok(env, ["migrate"], config);
  const signed = async (tenant) => {
    const c = await env.pool.connect();
    try {
      await c.query("BEGIN");
      const { rows } = await c.query(core.scopeBindingSql(false));
      const scope = core.scopeSql(tenant, HKEY, rows[0].binding);
      await c.query(scope.sql, scope.params);
      return (await c.query("SELECT tenant_id FROM audit_logs ORDER BY tenant_id NULLS LAST")).rows.map((r) => r.tenant_id);
    } finally {
      await c.query("ROLLBACK");
      c.release();
    }
  };
  assert.deepEqual(await signed(env.ids.acme), [env.ids.acme]);
  assert.equal((await signed(null)).length, 3);
  assert.deepEqual(await tenantsOf(env, SYSTEM), [null], "an unsigned bypass counts for nothing");
  assert.deepEqual(await tenantsOf(env, TENANT(env.ids.globex)), [null], "nor does an unsigned tenant");
  const refused = await cli(env, ["export", "--format", "csv"], config);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /set BETTER_TENANT_HARDENED_KEY/);
  const exported = await cli(env, ["export", "--format", "csv"], config, { BETTER_TENANT_HARDENED_KEY: HKEY });
  assert.match(exported.stderr, /exported 3 entries/);
});
