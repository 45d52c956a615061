// The upgrade an existing user makes: a database set up and filled by the reference packages
// (@usebetterdev/tenant 0.5.4 with its CLI's migration, @usebetterdev/audit 0.8.1 with the
// audit_logs table drizzle-kit makes from its schema), then the same app code switched to these
// packages. Needs the reference installed under aliases: scripts/reference.sh js-tests/.ref.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import * as ourTenant from "@usebetterdev/tenant";
import * as ourTenantDrizzle from "@usebetterdev/tenant/drizzle";
import * as ourTenantHono from "@usebetterdev/tenant/hono";
import * as ourAudit from "@usebetterdev/audit";
import * as ourAuditDrizzle from "@usebetterdev/audit/drizzle";
import { APP_GRANTS, OWNER, admin, connectAs, fixture, ownedDatabase, requireEnv } from "./helpers/db.mjs";
import { auditCli, cli as tenantCli, project } from "./helpers/cli.mjs";
import { buildApp } from "./upgrade/app.mjs";

const requireRef = createRequire(new URL("./.ref/package.json", import.meta.url));
const reference = {
  ...requireRef("ref-tenant"),
  ...requireRef("ref-tenant/drizzle"),
  ...requireRef("ref-tenant/hono"),
  ...requireRef("ref-audit"),
  ...requireRef("ref-audit/drizzle"),
};
const ours = { ...ourTenant, ...ourTenantDrizzle, ...ourTenantHono, ...ourAudit, ...ourAuditDrizzle };

const SEAL_KEY = "upgrade-seal-key-".padEnd(48, "x");
let dbh;
let url;
let ownerUrl;
const pools = [];
const ids = {};
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function database() {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // pool.end() resolves before its sockets close, and dropping the database then terminates
  // them: an app's pool listens for that (ours add a listener; the reference's pool has none).
  pool.on("error", () => {});
  pools.push(pool);
  return drizzle(pool);
}

const call = async (app, tenantId, method, path, body) => {
  const res = await app.request(path, { method, headers: { "x-tenant-id": tenantId, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};

/** Rows as the superuser sees them (no RLS). */
async function asAdmin(query, params = []) {
  const a = await admin(dbh.name);
  try {
    return (await a.query(query, params)).rows;
  } finally {
    await a.end();
  }
}

before(async () => {
  // The reference CLI's migration, generated now from the user's config.
  const dir = project("upgrade-ref", { "better.config.mjs": `export default { tenant: { tenantTables: ["projects"] } };\n` });
  execFileSync(process.execPath, [new URL("./.ref/node_modules/ref-tenant-cli/dist/cli.js", import.meta.url).pathname, "migrate", "-o", "rls.sql"], { cwd: dir, stdio: "pipe" });
  const referenceMigration = readFileSync(`${dir}/rls.sql`, "utf8");
  dbh = await ownedDatabase("upgrade", async (owner) => {
    await owner.query(`CREATE TABLE tenants (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE projects (id serial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants(id), name text NOT NULL, due_at timestamptz)`);
    await owner.query(referenceMigration);
    await owner.query(fixture("reference-audit-logs.sql"));
  });
  const base = new URL(requireEnv("DATABASE_URL"));
  base.pathname = `/${dbh.name}`;
  url = base.toString();
  const o = new URL(url);
  o.username = OWNER.user;
  o.password = OWNER.password;
  ownerUrl = o.toString();
});

after(async () => {
  for (const p of pools) await p.end();
  await dbh?.drop();
});

test("a reference setup switched to these packages keeps working; after both migrations tenant attribution and sealing work, nothing lost", { timeout: 120_000 }, async () => {
  // 1. The reference app: tenants, rows, audited INSERT/UPDATE/DELETE.
  const refApp = buildApp(reference, database());
  for (const slug of ["acme", "globex"]) ids[slug] = (await refApp.tenant.api.createTenant({ name: slug, slug })).id;
  for (const [slug, n] of [["acme", 3], ["globex", 2]]) {
    for (let i = 1; i <= n; i++) {
      const r = await call(refApp.app, ids[slug], "POST", "/api/projects", { name: `${slug}-${i}`, dueAt: "2030-01-02T03:04:05.678Z" });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  }
  const acmeRows = (await call(refApp.app, ids.acme, "GET", "/api/projects")).body;
  assert.equal((await call(refApp.app, ids.acme, "PATCH", `/api/projects/${acmeRows[0].id}`, { name: "acme-1-renamed" })).status, 200);
  assert.equal((await call(refApp.app, ids.acme, "DELETE", `/api/projects/${acmeRows[2].id}`)).status, 200);
  const refEntries = await asAdmin(`SELECT operation, before_data, after_data, diff FROM audit_logs ORDER BY "timestamp"`);
  assert.deepEqual(refEntries.map((e) => e.operation), ["INSERT", "INSERT", "INSERT", "INSERT", "INSERT", "UPDATE", "DELETE"], "the reference recorded its entries");
  const refUpdate = refEntries.find((e) => e.operation === "UPDATE");

  // 2. The same code on our packages, same database, nothing else changed.
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => warnings.push(a.join(" "));
  try {
    const app = buildApp(ours, database());
    const acme = await call(app.app, ids.acme, "GET", "/api/projects");
    const globex = await call(app.app, ids.globex, "GET", "/api/projects");
    assert.deepEqual(acme.body.map((r) => r.name), ["acme-1-renamed", "acme-2"], "acme sees its rows");
    assert.deepEqual(globex.body.map((r) => r.name), ["globex-1", "globex-2"], "globex sees its rows only");
    const made = await call(app.app, ids.globex, "POST", "/api/projects", { name: "globex-3", dueAt: "2031-01-01T00:00:00.000Z" });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.tenantId, ids.globex);
    const renamed = await call(app.app, ids.acme, "PATCH", `/api/projects/${acmeRows[1].id}`, { name: "acme-2-renamed" });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal((await call(app.app, ids.globex, "PATCH", `/api/projects/${acmeRows[1].id}`, { name: "stolen" })).status, 404, "no write across tenants");
    assert.equal((await call(app.app, ids.acme, "DELETE", `/api/projects/${made.body.id}`)).status, 404, "no delete across tenants");
    const upgrade = warnings.filter((w) => w.includes("better-audit migrate"));
    assert.equal(upgrade.length, 1, `one upgrade warning:\n${warnings.join("\n")}`);

    // Old and new entries read back alike: same image keys, same timestamp form, same diff shape.
    const { entries } = await app.audit.query().resource("projects").list();
    const updates = entries.filter((e) => e.operation === "UPDATE");
    assert.equal(updates.length, 2, "the reference's update and ours");
    const [mine, theirs] = updates;
    assert.deepEqual(Object.keys(mine.afterData).sort(), Object.keys(theirs.afterData).sort());
    assert.deepEqual(Object.keys(mine.beforeData).sort(), Object.keys(refUpdate.before_data).sort());
    assert.match(mine.afterData.dueAt, ISO);
    assert.match(theirs.afterData.dueAt, ISO);
    assert.deepEqual(mine.diff.changedFields, theirs.diff.changedFields);
    assert.equal(entries.length, 9);
  } finally {
    console.warn = warn;
  }

  // 3. better-tenant check passes on the reference's setup and recommends the upgrade.
  const dir = project("upgrade-ours", { "better.config.mjs": `export default { tenant: { tenantTables: ["projects"] }, audit: { auditTables: ["projects"] } };\n` });
  // The command-line tools always run on the native addon, whichever backend the app uses.
  const native = { USEBETTER_BINDING: "native" };
  const checked = await tenantCli(["check", "--database-url", url], { cwd: dir, env: native });
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, /better-tenant migrate/, "it names the upgrade");

  // better-audit check names the gap of the reference's audit_logs and its fix.
  const auditChecked = await auditCli(["check", "--database-url", url], { cwd: dir, env: native });
  assert.equal(auditChecked.code, 1, auditChecked.stdout);
  assert.match(auditChecked.stdout, /audit_logs was created for @usebetterdev\/audit 0\.8\.1: run `better-audit migrate` to add tenant_id, seq, prev_hash, hash/);

  // 4. Both migrations, as the tables' owner; the data stays.
  const migrated = await tenantCli(["migrate", "-o", "rls.sql"], { cwd: dir, env: native });
  assert.equal(migrated.code, 0, migrated.stderr);
  const owner = await connectAs(OWNER.user, OWNER.password, dbh.name);
  await owner.query(readFileSync(`${dir}/rls.sql`, "utf8"));
  await owner.end();
  const auditMigrated = await auditCli(["migrate", "--database-url", ownerUrl], { cwd: dir, env: native });
  assert.equal(auditMigrated.code, 0, auditMigrated.stdout + auditMigrated.stderr);
  // The app role's DML on what the migrations created, as the user's own grants give it.
  await asAdmin(APP_GRANTS);
  const [{ n: before }] = await asAdmin("SELECT count(*)::int AS n FROM audit_logs");
  assert.equal(before, 9, "every entry kept");

  // 5. Sealing on: new entries carry their tenant and are sealed; verify passes.
  warnings.length = 0;
  console.warn = (...a) => warnings.push(a.join(" "));
  try {
    const app = buildApp(ours, database(), { seal: { key: SEAL_KEY } });
    const r = await call(app.app, ids.acme, "POST", "/api/projects", { name: "acme-sealed", dueAt: "2032-01-01T00:00:00.000Z" });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await call(app.app, ids.acme, "PATCH", `/api/projects/${r.body.id}`, { name: "acme-sealed-2" })).status, 200);
    assert.deepEqual(warnings.filter((w) => w.includes("audit_logs lacks")), [], "no upgrade warning after the migration");
    const fresh = await asAdmin(`SELECT tenant_id::text, hash IS NOT NULL AS sealed FROM audit_logs WHERE after_data->>'name' LIKE 'acme-sealed%'`);
    assert.deepEqual(fresh, [{ tenant_id: ids.acme, sealed: true }, { tenant_id: ids.acme, sealed: true }]);
    // A tenant reads its own entries (and not the unattributed old ones) under RLS.
    const seen = await app.tenant.runAs(ids.acme, async () => (await app.audit.query().list()).entries);
    assert.deepEqual(seen.map((e) => e.afterData?.name).sort(), ["acme-sealed", "acme-sealed-2"]);
  } finally {
    console.warn = warn;
  }
  // The entries written before sealing was on are sealed once, as `verify` asks.
  const unsealed = await auditCli(["verify", "--database-url", ownerUrl], { cwd: dir, env: { ...native, AUDIT_SEAL_KEY: SEAL_KEY } });
  assert.match(unsealed.stdout, /9 entries are not sealed \(run `better-audit seal`\)/);
  const sealedOld = await auditCli(["seal", "--database-url", ownerUrl], { cwd: dir, env: { ...native, AUDIT_SEAL_KEY: SEAL_KEY } });
  assert.equal(sealedOld.code, 0, sealedOld.stdout + sealedOld.stderr);
  const verified = await auditCli(["verify", "--database-url", ownerUrl], { cwd: dir, env: { ...native, AUDIT_SEAL_KEY: SEAL_KEY } });
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  // The table is up to date now; what is left is the app role's grants (the test gave it DML).
  const recheck = await auditCli(["check", "--database-url", url], { cwd: dir, env: { ...native, AUDIT_SEAL_KEY: SEAL_KEY } });
  assert.doesNotMatch(recheck.stdout, /audit_logs columns —|audit_logs indexes —|audit_chain_checkpoints table exists —/, recheck.stdout);
  const rows = await asAdmin("SELECT name FROM projects ORDER BY id");
  assert.deepEqual(rows.map((r) => r.name), ["acme-1-renamed", "acme-2-renamed", "globex-1", "globex-2", "globex-3", "acme-sealed-2"]);
});
