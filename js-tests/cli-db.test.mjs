// suite: once (scripts/test.sh runs it once; the others run on each backend)
// better-tenant against real PostgreSQL: check on a fresh, a migrated, a reference-migrated and
// one broken database per check; doctor on each; seed; connection failures.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import core from "@usebetter-rs/core";
import { runCheck } from "@usebetterdev/tenant-cli/check";
import { runSeed, slugFromName } from "@usebetterdev/tenant-cli/seed";
import { runCli } from "@usebetterdev/tenant-cli";
import { APP_GRANTS, OWNER, admin, connectAs, ensureOwnerRole, fixture, freshDatabase, ownedDatabase, requireEnv } from "./helpers/db.mjs";
import { cli, configFile, matchSnapshot, project } from "./helpers/cli.mjs";

const migration = core.generateMigrationSql({ tenantTables: ["projects", "tasks"] });
const hardenedMigration = core.generateMigrationSql({ tenantTables: ["projects", "tasks"], hardened: true });
const hardenedKey = "doctor-test-key-0123456789abcdef-0123456789";
const port = new URL(requireEnv("DATABASE_URL")).port;
const urlFor = (db, user = "app", password = "app") => `postgres://${user}:${password}@127.0.0.1:${port}/${db}`;
const dir = project("cli-db", { "better.config.ts": configFile(["projects", "tasks"]) });
const created = [];

/**
 * A database with the app schema, owned by `rls_owner` (the app role gets DML only);
 * `migrated` applies our migration; `mutate(ownerClient, dbName)` breaks it.
 */
async function database(name, { migrated = true, reference = false, hardened = false, mutate } = {}) {
  let dbName;
  const db = await ownedDatabase(name, async (c) => {
    dbName = c.database;
    await c.query(fixture("schema.sql"));
    if (reference) await c.query(fixture("reference-migration.sql"));
    if (migrated) await c.query(hardened ? hardenedMigration : migration);
    if (hardened) await c.query("INSERT INTO better_tenant_private.context_key (key) VALUES (convert_to($1, 'UTF8'))", [hardenedKey]);
    if (mutate) await mutate(c, dbName);
  });
  created.push(db);
  return db.name;
}

/** Runs `sql` on `db` as the superuser (for ownership and role changes). */
async function asAdmin(db, sql) {
  const a = await admin(db);
  try {
    await a.query(sql);
  } finally {
    await a.end();
  }
}

async function check(db, extra = [], env = {}) {
  return cli(["check", "--database-url", urlFor(db), ...extra], { cwd: dir, env });
}

async function json(db, extra = [], user = ["app", "app"]) {
  const r = await cli(["check", "--json", "--database-url", urlFor(db, ...user), ...extra], { cwd: dir });
  return { code: r.code, report: JSON.parse(r.stdout) };
}

const result = (report, name) => report.results.find((x) => x.check === name) ?? assert.fail(`no result ${name}`);

before(async () => {
  await ensureOwnerRole();
  const a = await admin();
  await a.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bypasser') THEN
      CREATE ROLE bypasser LOGIN PASSWORD 'bypasser' NOSUPERUSER BYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leaky_owner') THEN
      CREATE ROLE leaky_owner NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ops_group') THEN
      CREATE ROLE ops_group NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_member') THEN
      CREATE ROLE app_member LOGIN PASSWORD 'app_member' NOSUPERUSER NOBYPASSRLS;
    END IF; END $$`);
  // app_member -> ops_group -> bypasser: a BYPASSRLS role reachable only transitively.
  await a.query("GRANT bypasser TO ops_group; GRANT ops_group TO app_member");
  await a.end();
});

after(async () => {
  for (const db of created) await db.drop();
  // Memberships are cluster-wide: leave the app role as the other test files expect it.
  const a = await admin();
  await a.query("REVOKE leaky_owner FROM app");
  await a.end();
});

test("check needs a database URL", async () => {
  const r = await cli(["check"], { cwd: dir, env: { DATABASE_URL: undefined } });
  assert.deepEqual(r, { code: 1, stdout: "", stderr: "check requires --database-url or DATABASE_URL environment variable\n" });
});

test("before and after migration: the reference's lines, our extra checks, exit codes", async () => {
  const before = await database("before", { migrated: false });
  const r1 = await check(before);
  assert.equal(r1.code, 1);
  matchSnapshot("check-before-migration.txt", r1.stdout);
  const after = await database("after");
  const r2 = await check(after);
  assert.equal(r2.code, 0, r2.stdout);
  matchSnapshot("check-after-migration.txt", r2.stdout);
  // DATABASE_URL works as well as the flag.
  const viaEnv = await cli(["check"], { cwd: dir, env: { DATABASE_URL: urlFor(after) } });
  assert.equal(viaEnv.stdout, r2.stdout);
});

test("without a config, the snippet lists the tables found in the database", async () => {
  const db = await database("detect", { migrated: false, mutate: (c) => c.query("CREATE TABLE users (id serial PRIMARY KEY); CREATE TABLE __drizzle_migrations (id serial)") });
  const r = await cli(["migrate", "--dry-run"], { cwd: project("detect"), env: { DATABASE_URL: urlFor(db) } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\n      tenantTables: \["users", "projects", "tasks"\],\n/);
  // The reference's order: the note, a blank line, then where it looked.
  assert.match(r.stderr, /\n  \}\);\n\n\(These tables were detected in your database — adjust as needed\.\)\n\n\(Looked in: [^\n]+\)\n$/);
});

test("a failed check or doctor ends with the next step: this invocation's migrate command, each other fix once", async () => {
  const db = await database("next_steps", { migrated: false });
  const c = await check(db, ["--schema", "public"]);
  assert.equal(c.code, 1);
  assert.ok(c.stdout.endsWith("\n✗ 21 checks failed, 22 passed\n\nNext step: run `better-tenant migrate --schema public -o db/rls.sql` and apply db/rls.sql as the tables' owner (not the application role) (fixes 21 checks), then run `better-tenant check` again.\n"), c.stdout);
  const d = await cli(["doctor", "--database-url", urlFor(db)], { cwd: dir });
  assert.match(d.stdout, /probes failed\n\nNext step: run `better-tenant migrate -o db\/rls\.sql` and apply db\/rls\.sql as the tables' owner \(not the application role\) \(fixes 21 checks\), then run `better-tenant doctor` again\.\n$/);
  const mixed = await database("next_mixed", { mutate: (o) => o.query("GRANT TRUNCATE ON projects, tasks TO app; ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY") });
  const m = await check(mixed);
  assert.equal(m.code, 1);
  assert.ok(m.stdout.endsWith(`Next steps, then run \`better-tenant check\` again:
  1. REVOKE TRUNCATE ON "public"."projects" FROM "app", PUBLIC; (1 check)
  2. run \`better-tenant migrate -o db/rls.sql\` and apply db/rls.sql as the tables' owner (not the application role) (1 check)
  3. REVOKE TRUNCATE ON "public"."tasks" FROM "app", PUBLIC; (1 check)
`), m.stdout);
  // JSON keeps the reference's shape: the fixes are in each result's remediation.
  assert.deepEqual(Object.keys((await json(mixed)).report), ["passed", "results", "warnings", "upgrades"]);
});

test("check --json: machine-readable, same verdict", async () => {
  const db = await database("json");
  const { code, report } = await json(db);
  assert.equal(code, 0);
  assert.deepEqual(Object.keys(report), ["passed", "results", "warnings", "upgrades"]);
  assert.equal(report.passed, true);
  for (const r of report.results) {
    assert.equal(typeof r.check, "string");
    assert.equal(r.passed, true);
    assert.ok(!("message" in r), "passing results carry no message");
  }
  const broken = await json(await database("json-broken", { migrated: false }));
  assert.equal(broken.code, 1);
  const failed = broken.report.results.filter((r) => !r.passed);
  assert.ok(failed.length > 10);
  for (const r of failed) assert.equal(typeof r.message, "string");
  assert.ok(failed.some((r) => typeof r.remediation === "string"));
});

test("a database migrated by the reference is accepted and the upgrade is explained", async () => {
  const db = await database("ref", { migrated: false, reference: true });
  const { report } = await json(db);
  for (const t of ["projects", "tasks"]) {
    for (const c of ["policy exists", "policy USING clause", "policy WITH CHECK clause", "bypass_rls in policy", "no policy widens access", "set_tenant_id trigger"]) {
      assert.equal(result(report, `table ${t} ${c}`).passed, true, `${t} ${c}`);
    }
    assert.ok(!report.results.some((x) => x.check === `table ${t} tenant_id index`), "its missing index is an upgrade, not a failure");
    assert.ok(report.upgrades.some((u) => u.startsWith(`${t}: no index starts with tenant_id`)));
  }
  assert.equal(report.passed, true, "the reference's setup passes");
  assert.ok(report.upgrades.some((u) => u.startsWith("projects: policy compares tenant_id as text")));
  assert.ok(report.upgrades.some((u) => u.startsWith("tenants is readable by every tenant")));
  // After our migration on top, everything passes and nothing is left to upgrade.
  const c = await connectAs(OWNER.user, OWNER.password, db);
  await c.query(migration);
  await c.end();
  const upgraded = await json(db);
  assert.equal(upgraded.report.passed, true);
  assert.deepEqual(upgraded.report.upgrades, []);
});

// One broken database per check: [name, mutation as app (table owner), check that must fail,
// its message, and the checks that depend on the same fact and fail with it].
const policyChecks = (t) => [`table ${t} policy USING clause`, `table ${t} policy WITH CHECK clause`, `table ${t} bypass_rls in policy`];
const breakages = [
  ["no-force", (c) => c.query("ALTER TABLE projects NO FORCE ROW LEVEL SECURITY"), "table projects FORCE ROW LEVEL SECURITY", /^FORCE ROW LEVEL SECURITY not enabled$/],
  ["no-rls", (c) => c.query("ALTER TABLE tasks DISABLE ROW LEVEL SECURITY"), "table tasks RLS enabled", /not enabled/],
  ["widening", (c) => c.query("CREATE POLICY open_read ON projects FOR SELECT USING (true)"), "table projects no policy widens access", /"open_read"/, ["table projects no extra permissive policy"]],
  ["no-policy", (c) => c.query('DROP POLICY "rls_tenant_tasks" ON tasks'), "table tasks policy exists", /no RLS policy found/, policyChecks("tasks")],
  ["select-only", (c) => c.query('DROP POLICY "rls_tenant_tasks" ON tasks; CREATE POLICY t_read ON tasks FOR SELECT USING (tenant_id = (current_setting(\'app.current_tenant\'))::uuid)'), "table tasks policy exists", /no tenant-scoped policy for INSERT, UPDATE, DELETE/, policyChecks("tasks")],
  ["view", (c) => c.query("CREATE VIEW all_projects AS SELECT * FROM projects"), "view public.all_projects respects RLS", /security_invoker is off/],
  ["matview", (c) => c.query("CREATE MATERIALIZED VIEW project_counts AS SELECT tenant_id, count(*) FROM projects GROUP BY 1"), "view public.project_counts respects RLS", /stores every tenant's rows/],
  ["definer", (c) => c.query("CREATE FUNCTION count_projects() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$ SELECT count(*) FROM projects $$"), "function public.count_projects respects RLS", /reads projects/],
  ["no-index", (c) => c.query("DROP INDEX projects_tenant_id_idx"), "table projects tenant_id index", /no index starts with tenant_id/],
  ["no-trigger", (c) => c.query("DROP TRIGGER set_tenant_id_trigger ON tasks"), "table tasks set_tenant_id trigger", /not found/],
  ["tenants-open", (c) => c.query('ALTER TABLE tenants DISABLE ROW LEVEL SECURITY'), "tenants table RLS enabled", /not enabled on tenants/],
  ["tenants-write", (c) => c.query("CREATE POLICY anyone_writes ON tenants FOR INSERT WITH CHECK (true)"), "tenants table write policy bypass_rls", /should allow bypass_rls/],
  ["missing-table", (c) => c.query("DROP TABLE tasks"), "table tasks exists", /table tasks not found/],
  // What the app role can do around RLS, and policies weaker than ours.
  ["truncate-grant", (c) => c.query("GRANT TRUNCATE ON projects TO app"), "table projects TRUNCATE denied", /^role "app" can TRUNCATE projects \(by a grant\): TRUNCATE ignores RLS/],
  ["app-owns", (_, db) => asAdmin(db, "ALTER TABLE tasks OWNER TO app"), "table tasks owner out of reach", /^role "app" owns tasks: it can turn RLS off/, ["table tasks TRUNCATE denied"]],
  ["owner-member", (_, db) => asAdmin(db, "ALTER TABLE projects OWNER TO leaky_owner; GRANT leaky_owner TO app"), "table projects owner out of reach", /is a member of "leaky_owner", which owns projects/, ["table projects TRUNCATE denied"]],
  ["weak-bypass", (c) => c.query(`DROP POLICY "rls_tenant_projects" ON projects;
    CREATE POLICY "rls_tenant_projects" ON projects
      USING (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid OR current_setting('app.bypass_rls', true) <> 'false')
      WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid OR current_setting('app.bypass_rls', true) <> 'false')`),
    "table projects no policy widens access", /"rls_tenant_projects"/, ["table projects policy exists", ...policyChecks("projects")]],
  ["foreign-function", (c) => c.query(`CREATE SCHEMA evil;
    CREATE FUNCTION evil.better_tenant_current() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT tenant_id FROM public.tasks LIMIT 1 $$;
    DROP POLICY "rls_tenant_tasks" ON tasks;
    CREATE POLICY "rls_tenant_tasks" ON tasks
      USING (tenant_id = evil.better_tenant_current() OR current_setting('app.bypass_rls', true) = 'true')
      WITH CHECK (tenant_id = evil.better_tenant_current() OR current_setting('app.bypass_rls', true) = 'true')`),
    "table tasks policy calls the context functions of \"public\"", /in "evil": whatever they return is trusted/],
  ["extra-policy", (c) => c.query("CREATE POLICY also_mine ON tasks FOR SELECT USING (tenant_id = (current_setting('app.current_tenant'))::uuid)"), "table tasks no extra permissive policy", /^permissive policy "also_mine" OR-ed with the tenant policy/],
];

for (const [name, mutate, failing, message, alsoFails = []] of breakages) {
  test(`check catches: ${name}`, async () => {
    const db = await database(`brk_${name.replace(/-/g, "_")}`, { mutate });
    const { code, report } = await json(db);
    assert.equal(code, 1);
    const r = result(report, failing);
    assert.equal(r.passed, false);
    assert.match(r.message, message);
    const others = report.results.filter((x) => !x.passed && x.check !== failing).map((x) => x.check);
    assert.deepEqual(others, alsoFails, "only the broken check (and the ones that depend on it) fails");
  });
}

test("check catches a superuser and a BYPASSRLS role", async () => {
  const db = await database("roles");
  const su = await cli(["check", "--json", "--database-url", `postgresql://postgres@localhost/${db}?host=${encodeURIComponent(new URL(requireEnv("ADMIN_DATABASE_URL")).searchParams.get("host"))}&port=${port}`], { cwd: dir });
  const suReport = JSON.parse(su.stdout);
  assert.equal(result(suReport, "connected as non-superuser").passed, false);
  assert.match(result(suReport, "connected as non-superuser").message, /^connected as superuser "postgres" — RLS policies will be bypassed/);
  const by = await json(db, [], ["bypasser", "bypasser"]);
  assert.equal(by.code, 1);
  assert.match(result(by.report, "connected role does not bypass RLS").message, /"bypasser" has BYPASSRLS/);
});

test("unique indexes without tenant_id are a warning, not a failure", async () => {
  const db = await database("unique", { mutate: (c) => c.query("CREATE UNIQUE INDEX projects_name_key ON projects (name)") });
  const { code, report } = await json(db);
  assert.equal(code, 0);
  assert.ok(report.warnings.some((w) => w.check === "unique index projects_name_key on projects omits tenant_id"));
});

test("tables in another schema are checked there", async () => {
  const db = await ownedDatabase("schema_app", async (c) => {
    await c.query("CREATE SCHEMA app; SET search_path = app;" + fixture("schema.sql"));
    await c.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"], schema: "app" }));
    await c.query("GRANT USAGE ON SCHEMA app TO app; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO app; GRANT USAGE ON ALL SEQUENCES IN SCHEMA app TO app");
  });
  created.push(db);
  const r = await cli(["check", "--json", "--schema", "app", "--database-url", urlFor(db.name)], { cwd: dir });
  assert.equal(r.code, 0, r.stdout);
});

async function snapshotOf(db) {
  const c = await admin(db);
  const q = async (sql) => JSON.stringify((await c.query(sql)).rows);
  const state = {
    policies: await q("SELECT tablename, policyname, qual FROM pg_policies ORDER BY 1, 2"),
    owners: await q("SELECT relname, pg_get_userbyid(relowner) AS owner, relrowsecurity, relforcerowsecurity, relacl::text FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1"),
    functions: await q("SELECT proname, md5(prosrc) AS src, prosecdef, proconfig, pg_get_userbyid(proowner) AS owner FROM pg_proc WHERE proname LIKE 'better\\_tenant\\_%' OR proname = 'set_tenant_id' ORDER BY 1"),
    members: await q("SELECT roleid::regrole::text AS role, member::regrole::text AS member FROM pg_auth_members ORDER BY 1, 2"),
    tenants: await q("SELECT * FROM tenants ORDER BY id"),
    projects: await q("SELECT * FROM projects ORDER BY id"),
    tasks: await q("SELECT * FROM tasks ORDER BY id"),
  };
  await c.end();
  return state;
}

test("doctor: every probe passes on a migrated database, which is left as it was", async () => {
  const db = await database("doctor_ok");
  await cli(["seed", "--name", "Existing", "--database-url", urlFor(db)], { cwd: dir });
  const before = await snapshotOf(db);
  const r = await cli(["doctor", "--database-url", urlFor(db)], { cwd: dir });
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /Live probes \(in a transaction that was rolled back\):/);
  for (const t of ["projects", "tasks"]) {
    for (const p of ["reads its own row", "cannot read B's row", "cannot update B's row", "cannot delete B's row", "cannot insert a row for B"]) {
      assert.match(r.stdout, new RegExp(`✓ ${t}: tenant A ${p}`));
    }
    assert.match(r.stdout, new RegExp(`✓ ${t}: no context sees nothing`));
  }
  for (const t of ["tenants", "projects", "tasks"]) assert.match(r.stdout, new RegExp(`✓ ${t}: the connected role cannot TRUNCATE`));
  assert.match(r.stdout, /✓ All 19 probes passed/);
  assert.deepEqual(await snapshotOf(db), before);
});

test("doctor: TRUNCATE and SET ROLE are tried for real, rolled back, and leave every row and grant in place", async () => {
  const db = await database("doctor_leaky", {
    mutate: (c, name) => c.query("GRANT TRUNCATE ON projects TO app").then(() => asAdmin(name, "ALTER TABLE tasks OWNER TO leaky_owner; GRANT leaky_owner TO app")),
  });
  const seeded = await cli(["seed", "--name", "Existing", "--database-url", urlFor(db)], { cwd: dir });
  assert.equal(seeded.code, 0, seeded.stderr);
  const id = seeded.stdout.trimEnd().split("\n")[1];
  const owner = await admin(db);
  await owner.query("INSERT INTO projects (tenant_id, name) VALUES ($1, 'kept'); INSERT INTO tasks (tenant_id, project_id, title) SELECT $1, id, 'kept' FROM projects".replace(/\$1/g, `'${id}'`));
  await owner.end();
  const before = await snapshotOf(db);
  assert.equal(JSON.parse(before.tasks).length, 1);
  const r = await cli(["doctor", "--database-url", urlFor(db)], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /✗ projects: the connected role cannot TRUNCATE — TRUNCATE (succeeded \(rolled back\)|passed the privilege check)/);
  assert.match(r.stdout, /✗ tasks: the connected role cannot TRUNCATE — TRUNCATE succeeded \(rolled back\): it emptied every tenant's rows/);
  assert.match(r.stdout, /✗ cannot SET ROLE "leaky_owner" — SET ROLE "leaky_owner" succeeded \(rolled back\): it owns tasks and can turn its RLS off/);
  assert.match(r.stdout, /✓ tenants: the connected role cannot TRUNCATE/);
  assert.deepEqual(await snapshotOf(db), before);
});

test("doctor: probes fail where isolation is broken", async () => {
  const cases = [
    ["doctor_widening", (c) => c.query("CREATE POLICY open_read ON projects FOR SELECT USING (true)"), /✗ projects: tenant A cannot read B's row — tenant A read 1 of B's rows/],
    ["doctor_norls", (c) => c.query("ALTER TABLE tasks DISABLE ROW LEVEL SECURITY"), /✗ tasks: tenant A cannot (read|update|delete)/],
    ["doctor_loose", (c) => c.query(`DROP POLICY "rls_tenant_projects" ON projects;
      CREATE POLICY "rls_tenant_projects" ON projects USING (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid OR current_setting('app.bypass_rls', true) <> 'false')`),
      /✗ projects: a bypass value other than 'true' sees nothing — app\.bypass_rls = 'on' saw 2 rows/],
    ["doctor_unmigrated", undefined, /✗ projects: no context sees nothing/],
  ];
  for (const [name, mutate, failing] of cases) {
    const db = await database(name, { migrated: name !== "doctor_unmigrated", mutate });
    const r = await cli(["doctor", "--database-url", urlFor(db)], { cwd: dir });
    assert.equal(r.code, 1, name);
    assert.match(r.stdout, failing, name);
    const j = JSON.parse((await cli(["doctor", "--json", "--database-url", urlFor(db)], { cwd: dir })).stdout);
    assert.equal(j.passed, false);
    assert.ok(j.probes.some((p) => !p.passed));
  }
});

test("doctor on a hardened database signs its probes with the key, and shows the bypass is not settable", async () => {
  const db = await database("doctor_hard", { hardened: true });
  const without = await cli(["doctor", "--database-url", urlFor(db)], { cwd: dir, env: { BETTER_TENANT_HARDENED_KEY: undefined } });
  assert.equal(without.code, 1);
  assert.match(without.stdout, /set BETTER_TENANT_HARDENED_KEY/);
  assert.match(without.stdout, /✓ hardened context key out of reach/);
  // The privilege probes need no key.
  assert.match(without.stdout, /✓ context functions refuse unsigned settings/);
  assert.match(without.stdout, /✓ projects: the connected role cannot TRUNCATE/);
  assert.ok(without.stdout.endsWith("\nNext step: fix what the ✗ probes above show, then run `better-tenant doctor` again.\n"), without.stdout);
  const withKey = await cli(["doctor", "--database-url", urlFor(db)], { cwd: dir, env: { BETTER_TENANT_HARDENED_KEY: hardenedKey } });
  assert.equal(withKey.code, 0, withKey.stdout);
  assert.match(withKey.stdout, /✓ projects: an unsigned bypass sees nothing/);
  assert.doesNotMatch(withKey.stdout, /plain mode/);
  const seeded = await cli(["seed", "--name", "Signed", "--database-url", urlFor(db)], { cwd: dir, env: { BETTER_TENANT_HARDENED_KEY: hardenedKey } });
  assert.equal(seeded.code, 0, seeded.stderr);
});

test("plain mode is a warning that says what it allows and how to switch; hardened mode has none", async () => {
  const plainDb = await database("plain_warn");
  const plain = await json(plainDb);
  assert.equal(plain.code, 0);
  const w = plain.report.warnings.find((x) => x.check === "plain mode: the tenant context is not signed") ?? assert.fail("no plain-mode warning");
  assert.match(w.message, /set_config\('app\.bypass_rls', 'true', …\) to read every tenant/);
  assert.match(w.remediation, /^run `better-tenant migrate --hardened`/);
  const hard = await json(await database("hard_ok", { hardened: true }));
  assert.equal(hard.code, 0, JSON.stringify(hard.report));
  assert.deepEqual(hard.report.warnings, []);
  for (const f of ["public.better_tenant_current", "public.better_tenant_bypass", "better_tenant_private.signed", "better_tenant_private.hmac_sha256"]) {
    assert.equal(result(hard.report, `hardened function ${f} unchanged`).passed, true, f);
  }
  // With `hardened: true` in the config (what init writes), a plain database fails instead.
  const hardenedConfig = project("cli-db-hardened", { "better.config.json": JSON.stringify({ tenant: { tenantTables: ["projects", "tasks"], hardened: true } }) });
  const asked = await cli(["check", "--json", "--database-url", urlFor(plainDb)], { cwd: hardenedConfig });
  assert.equal(asked.code, 1);
  const failed = JSON.parse(asked.stdout).results.filter((r) => !r.passed);
  assert.deepEqual(failed.map((r) => r.check), ["hardened mode applied (the config sets hardened: true)"]);
  assert.match(failed[0].remediation, /better-tenant migrate --hardened/);
});

// Hardened databases broken in ways only hardened mode can be: [name, mutation as the owner,
// failing check, message, doctor probe that proves it without the key (if any)].
const hardenedBreakages = [
  ["bypass-skips-signature", (c) => c.query(`CREATE OR REPLACE FUNCTION public.better_tenant_bypass() RETURNS boolean
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
      AS $$ SELECT current_setting('app.bypass_rls', true) = 'true' $$`),
    "hardened function public.better_tenant_bypass unchanged", /differs from what `better-tenant migrate --hardened` generates/, /✗ context functions refuse unsigned settings — better_tenant_bypass\(\)\/better_tenant_current\(\) accepted an unsigned setting/],
  ["signed-without-definer", (c) => c.query("ALTER FUNCTION better_tenant_private.signed(text, text) SECURITY DEFINER"),
    "hardened function better_tenant_private.signed unchanged", /differs/],
  ["function-owned-by-app", (_, db) => asAdmin(db, "ALTER FUNCTION public.better_tenant_current() OWNER TO app"),
    "hardened function public.better_tenant_current unchanged", /role "app" owns it or is a member of its owner/],
  ["unsigned-policy", (c) => c.query(core.generateAddTableSql("tasks", {})),
    "table tasks policy uses the signed context", /policy "rls_tenant_tasks" read app\.current_tenant/, /✗ tasks: an unsigned bypass sees nothing/],
];

for (const [name, mutate, failing, message, probe] of hardenedBreakages) {
  test(`check catches on a hardened database: ${name}`, async () => {
    const db = await database(`hbrk_${name.replace(/-/g, "_")}`, { hardened: true, mutate });
    const { code, report } = await json(db);
    assert.equal(code, 1);
    const r = result(report, failing);
    assert.equal(r.passed, false);
    assert.match(r.message, message);
    assert.match(r.remediation, /better-tenant migrate --hardened/);
    const others = report.results.filter((x) => !x.passed && x.check !== failing).map((x) => x.check);
    assert.deepEqual(others, [], "only the broken check fails");
    if (probe) {
      const d = await cli(["doctor", "--database-url", urlFor(db)], { cwd: dir, env: { BETTER_TENANT_HARDENED_KEY: hardenedKey } });
      assert.equal(d.code, 1);
      assert.match(d.stdout, probe);
    }
  });
}

test("check catches a BYPASSRLS role the app role can become, even through another role; doctor proves it", async () => {
  const db = await database("member", { mutate: (c) => c.query(APP_GRANTS.replaceAll("TO app", "TO app_member")) });
  const { code, report } = await json(db, [], ["app_member", "app_member"]);
  assert.equal(code, 1);
  const r = result(report, "connected role cannot become a role that bypasses RLS");
  assert.equal(r.message, 'role "app_member" is a member of "bypasser" (BYPASSRLS): SET ROLE skips every policy');
  assert.match(r.remediation, /^REVOKE "bypasser" FROM "app_member";/);
  assert.deepEqual(report.results.filter((x) => !x.passed).map((x) => x.check), ["connected role cannot become a role that bypasses RLS"]);
  const d = await cli(["doctor", "--json", "--database-url", urlFor(db, "app_member", "app_member")], { cwd: dir });
  const probe = JSON.parse(d.stdout).probes.find((p) => p.probe === 'cannot SET ROLE "bypasser"');
  assert.deepEqual(probe, { probe: 'cannot SET ROLE "bypasser"', passed: false, message: 'SET ROLE "bypasser" succeeded (rolled back): RLS does not apply to it' });
});

test("seed creates a tenant under the bypass, validates and reports duplicates", async () => {
  const db = await database("seed");
  const r = await cli(["seed", "--name", "  Acme Corp  ", "--database-url", urlFor(db)], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const [line, id] = r.stdout.trimEnd().split("\n");
  assert.equal(line, "✓ Created tenant: Acme Corp (acme-corp)");
  assert.match(id, /^[0-9a-f-]{36}$/);
  const c = await admin(db);
  assert.deepEqual((await c.query("SELECT id::text, name, slug FROM tenants")).rows, [{ id, name: "Acme Corp", slug: "acme-corp" }]);
  await c.end();
  const dup = await cli(["seed", "--name", "Acme Corp", "--database-url", urlFor(db)], { cwd: dir });
  assert.deepEqual(dup, { code: 1, stdout: "", stderr: 'seed: a tenant with slug "acme-corp" already exists\n' });
  const bad = await cli(["seed", "--name", "X", "--slug", "GLOBEX inc", "--database-url", urlFor(db)], { cwd: dir });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^seed: invalid slug "GLOBEX inc"/);
  const empty = await cli(["seed", "--name", "!!!", "--database-url", urlFor(db)], { cwd: dir });
  assert.equal(empty.stderr, "seed: slug is required (provide --slug or use a name that yields a non-empty slug)\n");
  const noUrl = await cli(["seed", "--name", "x"], { cwd: dir, env: { DATABASE_URL: undefined } });
  assert.equal(noUrl.stderr, "seed requires --database-url or DATABASE_URL environment variable\n");
  const g = await runSeed(urlFor(db), { name: "Globex", slug: "globex" });
  assert.deepEqual({ name: g.name, slug: g.slug }, { name: "Globex", slug: "globex" });
  assert.match(g.id, /^[0-9a-f-]{36}$/);
  await assert.rejects(runSeed(urlFor(db), { name: "Globex" }), { code: "TENANT_EXISTS", message: /already exists/ });
  assert.equal(slugFromName("  Ünïcode Name!! "), "ncode-name");
});

test("programmatic runCheck returns the same report as check --json", async () => {
  const db = await database("prog");
  const report = await runCheck(urlFor(db), { tenantTables: ["projects", "tasks"] });
  assert.deepEqual(report, (await json(db)).report);
});

test("connection problems are one clear line and exit 1", async () => {
  const wrong = await cli(["check", "--database-url", urlFor("postgres", "app", "wrong")], { cwd: dir });
  assert.deepEqual(wrong, { code: 1, stdout: "", stderr: 'password authentication failed for user "app": check the password in --database-url / DATABASE_URL\n' });
  const down = await cli(["check", "--database-url", "postgres://app:app@127.0.0.1:1/app"], { cwd: dir });
  assert.equal(down.code, 1);
  assert.equal(down.stderr, "nothing is listening on 127.0.0.1:1 (connection refused): is PostgreSQL running there, and are the host and port in --database-url / DATABASE_URL right?\n");
  const nodb = await cli(["check", "--database-url", urlFor("does_not_exist")], { cwd: dir });
  assert.match(nodb.stderr, /database "does_not_exist" does not exist: check the database name/);
  const garbage = await cli(["check", "--database-url", "not a url"], { cwd: dir });
  assert.match(garbage.stderr, /^invalid database URL: /);
});

test("a table with tenant_id left out of tenantTables fails check with the add-table fix, unless listed as shared", async () => {
  const db = await database("unlisted", { mutate: (c) => c.query("CREATE TABLE invoices (id serial PRIMARY KEY, tenant_id uuid NOT NULL, total int)") });
  const name = "table public.invoices with tenant_id is protected";
  const { code, report } = await json(db);
  assert.equal(code, 1);
  const found = result(report, name);
  assert.equal(found.passed, false);
  assert.match(found.message, /not in tenantTables and has no row-level security: every tenant reads every tenant's rows/);
  assert.match(found.remediation, /better-tenant add-table invoices/);
  const shared = project("cli-db-shared", { "better.config.ts": configFile(["projects", "tasks"], `\n    sharedTables: ["invoices"],`) });
  const r = await cli(["check", "--json", "--database-url", urlFor(db)], { cwd: shared });
  assert.equal(r.code, 0, r.stdout);
  assert.ok(!JSON.parse(r.stdout).results.some((x) => x.check === name), "a shared table is not reported");
  const bad = project("cli-db-shared-bad", { "better.config.ts": configFile(["projects", "tasks"], `\n    sharedTables: "invoices",`) });
  const refused = await cli(["check", "--database-url", urlFor(db)], { cwd: bad });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr + refused.stdout, /"tenant\.sharedTables" must be an array/);
});

test("every failure carries a stable code next to its message (runCli's errorCode)", async () => {
  const db = await database("codes");
  const run = (args, { config = { tenant: { tenantTables: ["projects", "tasks"] } }, env = {} } = {}) => runCli(args, { cwd: dir, config, env });
  const failures = [
    [["migrate", "--bogus"], {}, "CLI_USAGE", "error: unknown option '--bogus'\n"],
    [["check"], {}, "CLI_NO_DATABASE", "check requires --database-url or DATABASE_URL environment variable\n"],
    [["migrate", "--dry-run"], { config: { tenant: {} } }, "INVALID_CONFIG", 'Config error: "tenant.tenantTables" must be an array\n'],
    [["migrate", "--dry-run"], { config: null }, "CLI_NO_CONFIG", undefined],
    [["migrate", "--dry-run", "--tables", "x", "--schema", "s".repeat(64)], {}, "INVALID_IDENTIFIER", undefined],
    [["check", "--database-url", urlFor("postgres", "app", "wrong")], {}, "DB_CONNECT", 'password authentication failed for user "app": check the password in --database-url / DATABASE_URL\n'],
    [["check", "--database-url", "not a url"], {}, "DB_INVALID_URL", undefined],
    [["check", "--database-url", `${urlFor(db)}?sslmode=allow`], {}, "DB_INVALID_URL", undefined],
    [["seed", "--name", "x", "--slug", "BAD slug", "--database-url", urlFor(db)], {}, "CLI_USAGE", undefined],
  ];
  for (const [args, options, errorCode, stderr] of failures) {
    const r = await run(args, options);
    assert.equal(r.code, 1, args.join(" "));
    assert.equal(r.errorCode, errorCode, `${args.join(" ")}: ${r.stderr}`);
    if (stderr !== undefined) assert.equal(r.stderr, stderr);
  }
  const first = await run(["seed", "--name", "Codes", "--database-url", urlFor(db)]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal("errorCode" in first, false, "a command that succeeds has no errorCode");
  const dup = await run(["seed", "--name", "Codes", "--database-url", urlFor(db)]);
  assert.deepEqual(dup, { code: 1, stdout: "", stderr: 'seed: a tenant with slug "codes" already exists\n', errorCode: "TENANT_EXISTS" });
  const failedCheck = await run(["check", "--database-url", urlFor(db)], { config: { tenant: { tenantTables: ["projects", "tasks", "nope"] } } });
  assert.equal(failedCheck.code, 1, "a report that fails exits 1");
  assert.equal(failedCheck.errorCode, undefined, "a failed check is a report, not an error");
});
