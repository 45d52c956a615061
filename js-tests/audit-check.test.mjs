// suite: once (scripts/test.sh runs it once; the others run on each backend)
// better-audit check against PostgreSQL 15, as the application's role (`app`) on databases whose
// tables belong to another role (`rls_owner`, which migrates): a migrated database passes; a
// missing table, a table made for @usebetterdev/audit 0.8.1, a missing index, partition or
// trigger, an application role that can rewrite entries, audit_logs outside tenant isolation and
// an unusable seal key each fail with their fix; --json lists the same findings as the text.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "@usebetterdev/audit-cli";
import { admin, fixture, ownedDatabase, OWNER, requireEnv } from "./helpers/db.mjs";
import { matchSnapshot } from "./helpers/cli.mjs";

const port = new URL(requireEnv("DATABASE_URL")).port;
const KEY = "seal-key-kept-outside-the-database";
const dir = mkdtempSync(join(tmpdir(), "better-audit-check-"));
const created = [];
after(async () => {
  for (const db of created) await db.drop();
});

const urlOf = (user, password, name) => `postgres://${user}:${password}@127.0.0.1:${port}/${name}`;

/** A database whose tables `rls_owner` creates with `setup`; `app` gets DML on them (APP_GRANTS). */
async function database(prefix, setup = "") {
  const db = await ownedDatabase(prefix, async (c) => {
    if (setup) await c.query(setup);
  });
  created.push(db);
  return { name: db.name, owner: urlOf(OWNER.user, OWNER.password, db.name), app: urlOf("app", "app", db.name) };
}

/** Runs `sql` as the superuser in the database. */
async function superuser(db, sql) {
  const a = await admin(db.name);
  try {
    return (await a.query(sql)).rows;
  } finally {
    await a.end();
  }
}

const cli = (url, args, { config = null, env = {} } = {}) => runCli(args, { cwd: dir, config, env: { DATABASE_URL: url, ...env } });
const ok = async (url, args, options) => {
  const r = await cli(url, args, options);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

/** `migrate` as the owner, then the application's usual grant on the trail: read and append. */
async function migrate(db, args = [], options) {
  await ok(db.owner, ["migrate", ...args], options);
  await superuser(db, "GRANT SELECT, INSERT ON audit_logs TO app");
}

/** `check` as `app`, in text and as JSON; both must agree on the findings and the exit code. */
async function check(db, options, args = []) {
  const text = await cli(db.app, ["check", ...args], options);
  const json = await cli(db.app, ["check", "--json", ...args], options);
  assert.equal(text.stderr + json.stderr, "");
  assert.equal(json.code, text.code);
  const report = JSON.parse(json.stdout);
  const lines = [...text.stdout.matchAll(/^ {2}([✓✗⚠]) (.+?)(?: — (.*))?\n(?: {6}fix: (.*)\n)?/gm)];
  const listed = (marks) => lines.filter((m) => marks.includes(m[1])).map((m) => ({ check: m[2], passed: m[1] === "✓", ...(m[3] ? { message: m[3] } : {}), ...(m[4] ? { remediation: m[4] } : {}) }));
  assert.deepEqual(listed("✓✗"), report.results, "text and --json list the same results");
  assert.deepEqual(listed("⚠").map((w) => w.check), report.warnings.map((w) => w.check));
  assert.equal(report.passed, text.code === 0);
  assert.equal(text.code, report.results.every((r) => r.passed) ? 0 : 1);
  if (report.next) assert.ok(text.stdout.endsWith(`Next: ${report.next}\n\n`), text.stdout);
  return { code: text.code, text: text.stdout, report, failed: report.results.filter((r) => !r.passed) };
}

const failedNamed = (r, prefix) => {
  const found = r.failed.find((f) => f.check.startsWith(prefix));
  assert.ok(found, `no failure "${prefix}" in:\n${r.text}`);
  return found;
};

test("a freshly migrated database passes with every check listed; the owner itself does not", async () => {
  const db = await database("acheck_fresh");
  await migrate(db);
  const r = await check(db);
  assert.equal(r.code, 0, r.text);
  assert.deepEqual(r.report.results.map((c) => c.check), [
    "audit_logs table exists",
    "audit_logs columns",
    "audit_logs column types",
    "audit_logs indexes",
    "audit_chain_checkpoints table exists",
    'connected role cannot UPDATE, DELETE or TRUNCATE audit_logs',
    'connected role cannot write audit_chain_checkpoints',
  ]);
  assert.deepEqual(r.report.warnings, []);
  assert.match(r.text, /\n✓ All 7 checks passed\n$/);
  // The role that migrated owns the table: connected as it, the application could rewrite history.
  const owner = await cli(db.owner, ["check"]);
  assert.equal(owner.code, 1);
  assert.match(owner.stdout, /✗ connected role cannot UPDATE, DELETE or TRUNCATE audit_logs — "rls_owner" owns audit_logs/);
  assert.match(owner.stdout, /Next: connect the application as a role that does not own audit_logs/);
});

test("no audit_logs: one failure naming `better-audit migrate`, exit 1", async () => {
  const db = await database("acheck_empty");
  const r = await check(db);
  assert.equal(r.code, 1);
  assert.deepEqual(r.failed, [{ check: "audit_logs table exists", passed: false, message: "audit_logs not found in schema public: nothing can be recorded", remediation: "run `better-audit migrate`" }]);
  assert.equal(r.report.next, "run `better-audit migrate`");
  assert.match(r.text, /\n✗ 1 check failed, 0 passed\nNext: run `better-audit migrate`\n\n$/);
  const none = await runCli(["check"], { cwd: dir, config: null, env: {} });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /--database-url or set DATABASE_URL/);
});

test("a table made for @usebetterdev/audit 0.8.1 gets the upgrade hint, and passes after migrate", async () => {
  const db = await database("acheck_reference", `${fixture("reference-audit-logs.sql")}
    INSERT INTO audit_logs (table_name, operation, record_id) VALUES ('users', 'INSERT', '1');`);
  await superuser(db, "REVOKE UPDATE, DELETE ON audit_logs FROM app");
  const r = await check(db);
  assert.equal(r.code, 1);
  assert.equal(failedNamed(r, "audit_logs columns").message, "audit_logs was created for @usebetterdev/audit 0.8.1: run `better-audit migrate` to add tenant_id, seq, prev_hash, hash and the chain index (in place, no data loss)");
  assert.match(failedNamed(r, "audit_logs indexes").message, /^missing index: audit_logs_chain_seq_idx \(tenant_id, seq\)/);
  assert.equal(r.report.next, "run `better-audit migrate`");
  matchSnapshot("audit-check-reference.txt", r.text);
  await migrate(db);
  const after = await check(db);
  assert.equal(after.code, 0, after.text);
  assert.equal((await superuser(db, "SELECT count(*)::int AS n FROM audit_logs"))[0].n, 1, "the entry is kept");
});

test("a missing index, a missing or stale trigger and an application role that can rewrite entries, each with its fix", async () => {
  const db = await database("acheck_findings", `CREATE TABLE users (id serial PRIMARY KEY, email text, balance bigint);
    CREATE TABLE posts (id serial PRIMARY KEY, title text);`);
  const config = { audit: { auditTables: ["users", "posts"] } };
  await migrate(db, ["--triggers", "--tables", "users"], { config });
  const missing = await check(db, { config });
  assert.equal(missing.code, 1);
  assert.deepEqual(failedNamed(missing, "trigger usebetter_audit on posts"), {
    check: "trigger usebetter_audit on posts",
    passed: false,
    message: "not found: changes to this table are not recorded",
    remediation: "run `better-audit migrate --triggers`",
  });
  assert.equal(missing.failed.length, 1, missing.text);
  assert.equal((await check(db, { config }, ["--tables", "users"])).code, 0, "--tables names the captured tables");
  await migrate(db, ["--triggers"], { config });
  assert.equal((await check(db, { config })).code, 0);
  // The table changed after `migrate --triggers`: its trigger writes stale images.
  await superuser(db, "ALTER TABLE users ADD COLUMN total numeric");
  const stale = failedNamed(await check(db, { config }), "trigger usebetter_audit on users");
  assert.match(stale.message, /^passes key columns \(id\) and exact-number columns \(balance\); the table now has \(id\) and \(balance,total\)/);
  await migrate(db, ["--triggers"], { config });
  assert.equal((await check(db, { config })).code, 0);
  await superuser(db, "ALTER TABLE posts DISABLE TRIGGER usebetter_audit");
  assert.match(failedNamed(await check(db, { config }), "trigger usebetter_audit on posts").message, /^disabled/);
  await migrate(db, ["--triggers"], { config });
  assert.equal((await check(db, { config })).code, 0, "the fix re-enables it");

  await superuser(db, "DROP INDEX audit_logs_actor_id_idx");
  const index = await check(db, { config });
  assert.deepEqual(failedNamed(index, "audit_logs indexes"), {
    check: "audit_logs indexes",
    passed: false,
    message: "missing index: audit_logs_actor_id_idx (actor_id) (queries, cursors and the hash chains scan the whole table)",
    remediation: "run `better-audit migrate`",
  });
  await migrate(db);

  await superuser(db, "GRANT UPDATE, DELETE ON audit_logs TO app");
  const writer = await check(db, { config });
  const found = failedNamed(writer, 'connected role cannot UPDATE, DELETE or TRUNCATE audit_logs');
  assert.match(found.message, /: audit_logs \(UPDATE, DELETE\)$/);
  assert.equal(found.remediation, 'REVOKE UPDATE, DELETE, TRUNCATE ON "public"."audit_logs" FROM "app", PUBLIC;');
  assert.equal(writer.report.next, found.remediation);
  // The fix as printed, applied by the owner, is the whole fix.
  await superuser(db, found.remediation);
  assert.equal((await check(db, { config })).code, 0);
});

test("partitions must cover this month and the next; ensure-partitions is the fix", async () => {
  const db = await database("acheck_parts");
  await migrate(db, ["--partitioned", "--months", "1"]);
  const r = await check(db);
  assert.equal(r.code, 0, r.text);
  assert.ok(r.report.results.some((c) => c.check === "audit_logs partitions cover this month and the next"));
  const [{ next }] = await superuser(db, "SELECT 'audit_logs_p' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYY_MM') AS next");
  await superuser(db, `DROP TABLE ${next}`);
  const gap = failedNamed(await check(db), "audit_logs partitions");
  assert.match(gap.message, /^no partition for \d{4}-\d{2}: its entries go to the default partition/);
  assert.equal(gap.remediation, "run `better-audit ensure-partitions` (monthly, e.g. from cron)");
  await ok(db.owner, ["ensure-partitions", "--months", "1"]);
  assert.equal((await check(db)).code, 0);
});

test("with a tenant section, audit_logs outside tenant isolation is reported until migrate isolates it", async () => {
  const db = await database("acheck_tenancy");
  const config = { tenant: { tenantTables: ["projects"] } };
  await migrate(db);
  const r = await check(db, { config });
  assert.equal(r.code, 1);
  const found = failedNamed(r, "audit_logs isolated by tenant");
  assert.match(found.message, /^audit_chain_checkpoints, audit_logs lack ENABLE \+ FORCE ROW LEVEL SECURITY with the tenant policy \(audit_logs_tenant_isolation\)/);
  assert.match(found.remediation, /^run `better-audit migrate` \(with the tenant section/);
  assert.equal(r.failed.length, 1);
  await migrate(db, [], { config });
  const isolated = await check(db, { config });
  assert.equal(isolated.code, 0, isolated.text);
  assert.ok(isolated.report.results.some((c) => c.check === "audit_logs isolated by tenant" && c.passed));
});

test("sealing configured: a missing, short or wrong key is reported, the right key passes", async () => {
  const db = await database("acheck_seal");
  const config = { audit: { seal: true } };
  await migrate(db, [], { config });
  const owner = await admin(db.name);
  try {
    await owner.query(`INSERT INTO audit_logs (table_name, operation, record_id) SELECT 'users', 'INSERT', g::text FROM generate_series(1, 5) g`);
  } finally {
    await owner.end();
  }
  await ok(db.owner, ["seal"], { env: { AUDIT_SEAL_KEY: KEY } });
  const name = "seal key verifies the newest sealed entry";
  const seal = async (env) => {
    const r = await check(db, { config, env });
    return r.report.results.find((c) => c.check === name);
  };
  const missing = await seal({});
  assert.equal(missing.passed, false);
  assert.match(missing.message, /^AUDIT_SEAL_KEY is not set/);
  assert.equal(missing.remediation, "set AUDIT_SEAL_KEY (or --key-file) to the key the entries were sealed with");
  assert.match((await seal({ AUDIT_SEAL_KEY: "short" })).message, /has 5 bytes, fewer than the 32 required/);
  const wrong = await seal({ AUDIT_SEAL_KEY: "a-wrong-key-of-more-than-32-bytes!" });
  assert.equal(wrong.passed, false);
  assert.match(wrong.message, /^AUDIT_SEAL_KEY does not verify entry [0-9a-f-]{36} \(seq 5\): it is not the key the entries were sealed with/);
  assert.deepEqual(await seal({ AUDIT_SEAL_KEY: KEY }), { check: name, passed: true });
  writeFileSync(join(dir, "seal.key"), `${KEY}\n`);
  assert.equal((await check(db, { config }, ["--key-file", "seal.key"])).code, 0);
  // No seal in the config and no key, but sealed entries: a warning, not a failure.
  const unsaid = await check(db);
  assert.equal(unsaid.code, 0);
  assert.deepEqual(unsaid.report.warnings.map((w) => w.check), ["seal key checked"]);
  // A key given without the config is checked too.
  assert.equal((await check(db, { env: { AUDIT_SEAL_KEY: "a-wrong-key-of-more-than-32-bytes!" } })).code, 1);
});
