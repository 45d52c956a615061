// suite: once (scripts/test.sh runs it once; the others run on each backend)
// better-email against PostgreSQL 15 (E17, E14 in part): migrate is idempotent and prints,
// writes and applies the same SQL; check names each finding (RLS off on a table, the suppression
// lookup missing or replaced, the enqueue function missing (a send then says to migrate) or
// without its plan setting, an old schema version, missing tables) and passes a migrated
// database; global suppressions are invisible to the application role in a tenant scope while
// email_suppressed reports them; better-tenant check passes next to the email tables; purge
// --dry-run and ensure-partitions; check --dkim-sample judges a received message's signature (E12);
// suppressions import (CSV and NDJSON, 10,000 rows, checked before anything is written, twice
// adds nothing) and export (CSV that import reads back).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { runCli } from "@usebetterdev/email-cli";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport } from "@usebetterdev/email/testing";
import { runCli as runTenantCli } from "@usebetterdev/tenant-cli";
import core from "@usebetter-rs/core";
import { APP_GRANTS, fixture, freshDatabase, inScope, migrateRoundTrip, OWNER, ownedDatabase } from "./helpers/db.mjs";
import { cliHarness, configFile, project } from "./helpers/cli.mjs";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { dkimKeys } from "./helpers/dkim.mjs";
import { inTenant } from "./helpers/webhooks.mjs";

const bin = createRequire(import.meta.url).resolve("@usebetterdev/email-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");

const RLS = { tenant: { tenantTables: [] }, email: { retention: { metadataDays: 30 } } };
const A = "0190a000-0000-7000-8000-00000000000a";
const { dir, created, urlOf, cli, ok, client, cleanup } = await cliHarness(runCli, { prefix: "better-email-", config: RLS });

after(cleanup);

test("migrate: applied twice changes nothing the second time; --dry-run and -o give the SQL it applies", async () => {
  const run = (db, args) => cli(urlOf(db), args);
  const first = await migrateRoundTrip("email", { run, connect: (db) => client("app", "app", db), dir, created, version: 2 });
  // Pinned search path, and one plan per session for its lookup (not one per call).
  assert.match(first, /fn email_suppressed\(bytea\[\],text\) t \{"search_path=pg_catalog, pg_temp",plan_cache_mode=force_generic_plan\}/);
  assert.match(first, /rel email_suppressions r t t /);
  const bad = await cli(urlOf("postgres"), ["migrate", "--dry-run"], { config: { email: { retention: { bodyDays: 3 } } } });
  assert.equal(bad.code, 1);
  assert.equal(bad.errorCode, "EMAIL_INVALID_CONFIG");
  assert.match(bad.stderr, /`retention\.bodyDays`/);
});

/** A database with the tenant schema and its RLS migration, and the email tables, migrated by their owner and used by `app`. */
async function migratedDatabase(prefix) {
  const db = await ownedDatabase(prefix, async (c) => {
    await c.query(fixture("schema.sql"));
    await c.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"] }));
  });
  created.push(db);
  assert.match(await ok(urlOf(db.name, OWNER.user, OWNER.password), ["migrate"]), /^applied/);
  const owner = await client(OWNER.user, OWNER.password, db.name);
  await owner.query(APP_GRANTS);
  const app = await client("app", "app", db.name);
  return { db, url: urlOf(db.name), ownerUrl: urlOf(db.name, OWNER.user, OWNER.password), owner, app };
}

async function findings(url) {
  const r = await cli(url, ["check", "--json"]);
  const report = JSON.parse(r.stdout);
  return { code: r.code, report, failed: report.results.filter((x) => !x.passed).map((x) => `${x.check}: ${x.message}`) };
}

test("check: a migrated database passes; each finding fails it and is named", async () => {
  const empty = await freshDatabase("emcli_empty");
  created.push(empty);
  const none = await findings(urlOf(empty.name));
  assert.equal(none.code, 1);
  assert.match(none.failed.join("\n"), /^email tables exist: missing in schema public: email_messages, /m);
  assert.match(none.report.next, /better-email migrate/);

  const { url, ownerUrl, owner } = await migratedDatabase("emcli_check");
  const healthy = await findings(url);
  assert.deepEqual(healthy.failed, []);
  assert.equal(healthy.code, 0);
  assert.ok(healthy.report.results.some((x) => x.check === "table email_suppressions tenant policy" && x.passed));
  assert.match((await cli(url, ["check"])).stdout, /✓ All \d+ checks passed/);

  const expectFinding = async (pattern) => {
    const r = await findings(url);
    assert.equal(r.code, 1, r.failed.join("\n"));
    assert.ok(r.failed.some((f) => pattern.test(f)), `${pattern}:\n${r.failed.join("\n")}`);
    assert.match(r.report.next, /better-email migrate/);
  };
  await owner.query("ALTER TABLE email_suppressions DISABLE ROW LEVEL SECURITY");
  await expectFinding(/^table email_suppressions RLS enabled: ROW LEVEL SECURITY not enabled on email_suppressions$/);
  await owner.query("ALTER TABLE email_suppressions ENABLE ROW LEVEL SECURITY");
  const partition = (await owner.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'email_events'::regclass AND c.relname <> 'email_events_default' LIMIT 1")).rows[0].relname;
  await owner.query(`ALTER TABLE ${partition} NO FORCE ROW LEVEL SECURITY`);
  await expectFinding(new RegExp(`^table email_events FORCE ROW LEVEL SECURITY: FORCE ROW LEVEL SECURITY not enabled on ${partition}$`));
  await owner.query(`ALTER TABLE ${partition} FORCE ROW LEVEL SECURITY`);

  await owner.query("DROP FUNCTION email_suppressed(bytea[], text)");
  await expectFinding(/^function email_suppressed answers suppressions only: public\.email_suppressed\(address_hashes bytea\[\], category text\) does not exist/);
  await ok(ownerUrl, ["migrate"]);
  await owner.query("ALTER FUNCTION email_suppressed(bytea[], text) SECURITY INVOKER");
  await expectFinding(/^function email_suppressed answers suppressions only: public\.email_suppressed is not SECURITY DEFINER/);
  await ok(ownerUrl, ["migrate"]);

  // The send path's function: without it check names it and a send says to migrate.
  const enqueue = (await owner.query("SELECT oid::regprocedure::text AS f FROM pg_proc WHERE proname = 'email_enqueue'")).rows;
  assert.equal(enqueue.length, 1);
  await owner.query(`DROP FUNCTION ${enqueue[0].f}`);
  await expectFinding(/^function email_enqueue as migrate writes it: public\.email_enqueue does not exist: every send fails$/);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const email = betterEmail({ database: sqlEmailAdapter(pool), transport: captureTransport(), from: "Acme <hello@acme.example>", unsubscribe: { baseUrl: "https://app.acme.example/email/u" }, secretsKey: randomBytes(32).toString("base64") });
  const send = () => inTenant(pool, A, (c) => email.send({ to: "jane@example.com", subject: "Hi", text: "Hi" }, { tx: c }));
  try {
    await assert.rejects(send(), (err) => err.code === "EMAIL_SCHEMA_OUTDATED" && /email_enqueue.*does not exist.*run `better-email migrate`/s.test(err.message));
    await ok(ownerUrl, ["migrate"]);
    await owner.query("SELECT set_config('app.bypass_rls', 'true', false)");
    assert.equal(Number((await owner.query("SELECT count(*) FROM email_messages")).rows[0].count), 0, "the refused send wrote nothing");
    // The function as migrate writes it, but planned anew on every call.
    await owner.query(`ALTER FUNCTION ${enqueue[0].f} RESET plan_cache_mode`);
    await expectFinding(/^function email_enqueue as migrate writes it: public\.email_enqueue does not set plan_cache_mode=force_generic_plan/);
    await ok(ownerUrl, ["migrate"]);
    assert.equal((await send()).status, "queued");
  } finally {
    await pool.end();
  }

  await owner.query("UPDATE email_meta SET value = '0' WHERE key = 'schema_version'");
  await expectFinding(/^schema version recorded: the email tables are at schema version 0, this version needs 2: run `better-email migrate`$/);
  await ok(ownerUrl, ["migrate"]);
  assert.deepEqual((await findings(url)).failed, [], "migrate repairs every finding");
});

test("tenant isolation: global suppressions are not listable by the application role, yet block its tenant's sends; better-tenant check passes", async () => {
  const { url, owner, app } = await migratedDatabase("emcli_rls");
  await owner.query("SELECT set_config('app.bypass_rls', 'true', false)");
  await owner.query(`INSERT INTO email_suppressions (id, tenant_id, address_hash, reason) VALUES
    (gen_random_uuid(), NULL, '\\x01', 'complaint'), (gen_random_uuid(), $1, '\\x02', 'unsubscribe')`, [A]);
  const { rows: listed } = await inScope(app, { "app.current_tenant": A }, () => app.query("SELECT address_hash FROM email_suppressions"));
  assert.deepEqual(listed.map((r) => r.address_hash.toString("hex")), ["02"], "the tenant lists its own entry only");
  const { rows } = await inScope(app, { "app.current_tenant": A }, () =>
    app.query("SELECT ord, suppressed, reason FROM email_suppressed(ARRAY['\\x01', '\\x02', '\\x03']::bytea[], 'transactional')"),
  );
  assert.deepEqual(rows, [
    { ord: 1, suppressed: true, reason: "complaint" },
    { ord: 2, suppressed: true, reason: "unsubscribe" },
    { ord: 3, suppressed: false, reason: null },
  ]);
  const other = await inScope(app, { "app.current_tenant": "0190a000-0000-7000-8000-00000000000b" }, () =>
    app.query("SELECT suppressed FROM email_suppressed(ARRAY['\\x02']::bytea[], NULL)"),
  );
  assert.deepEqual(other.rows, [{ suppressed: false }], "another tenant's entry does not block");

  const tenantDir = project("email-cli", { "better.config.ts": configFile(["projects", "tasks"]) });
  const tenantCheck = await runTenantCli(["check", "--json", "--database-url", url], { cwd: tenantDir });
  const report = JSON.parse(tenantCheck.stdout);
  assert.deepEqual(report.results.filter((x) => !x.passed), [], tenantCheck.stdout);
  assert.equal(tenantCheck.code, 0);
});

test("purge --dry-run lists the partitions it would drop and drops nothing; ensure-partitions", async () => {
  const { url, ownerUrl, owner, app } = await migratedDatabase("emcli_purge");
  await owner.query(`CREATE TABLE email_events_p20200106 PARTITION OF email_events FOR VALUES FROM ('2020-01-06 00:00:00+00') TO ('2020-01-13 00:00:00+00');
    CREATE TABLE email_messages_p20200106 PARTITION OF email_messages FOR VALUES FROM ('2020-01-06 00:00:00+00') TO ('2020-01-13 00:00:00+00');
    CREATE TABLE email_messages_p20200113 PARTITION OF email_messages FOR VALUES FROM ('2020-01-13 00:00:00+00') TO ('2020-01-20 00:00:00+00');`);
  // A message of 2020-01-15 is still queued: its partition stays.
  await app.query(`BEGIN; SELECT set_config('app.current_tenant', '${A}', true);
    INSERT INTO email_messages (id, category, priority, status, from_addr, rendered, message_id_header, date_header, created_at)
      VALUES (gen_random_uuid(), 'transactional', 1, 'queued', 'a@example.com', true, '<m@example.com>', now(), '2020-01-15');
    COMMIT`);
  const out = await ok(url, ["purge", "--dry-run"]);
  assert.match(out, /^retention: 30 days \(dry run\)\n/);
  assert.match(out, /would drop partition email_messages_p20200106\n/);
  assert.match(out, /would drop partition email_events_p20200106\n/);
  assert.doesNotMatch(out, /email_messages_p20200113/);
  const json = JSON.parse(await ok(url, ["purge", "--dry-run", "--json"]));
  assert.deepEqual(json.partitions, ["email_messages_p20200106", "email_events_p20200106"]);
  const count = async () => (await owner.query("SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'r' AND relname LIKE 'email\\_%\\_p2020%'")).rows[0].n;
  assert.equal(await count(), 3, "a dry run drops nothing");
  assert.match(await ok(ownerUrl, ["purge"]), /^retention: 30 days\ndropped partition email_messages_p20200106\ndropped partition email_events_p20200106\n/);
  assert.equal(await count(), 1, "the partition with a queued message stays");
  assert.match(await ok(ownerUrl, ["ensure-partitions", "--ahead", "6"]), /^partitions ready for this week and the next 6\n/);
  const { rows } = await app.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'email_recipients'::regclass");
  assert.equal(rows[0].n, 1 + 7, "DEFAULT, this week and the next 6");
});

test("worker: bad options are usage errors; a database without the tables names `better-email migrate`; otherwise the bin is handed the section", async () => {
  const empty = await freshDatabase("emcli_worker");
  created.push(empty);
  for (const args of [["worker", "--concurrency", "0"], ["worker", "--max-seconds", "x"]]) {
    const r = await cli(urlOf(empty.name), args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /invalid --(concurrency|max-seconds)/);
  }
  const missing = await cli(urlOf(empty.name), ["worker", "--once"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.errorCode, "EMAIL_SCHEMA_MISSING");
  assert.match(missing.stderr, /better-email migrate/);
  const { url } = await migratedDatabase("emcli_worker_ok");
  const section = { from: "a@acme.example", retrySchedule: [0, 1] };
  const r = await cli(url, ["worker", "--once", "--json"], { config: { ...RLS, email: section } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.handoff, { command: "worker", config: section, databaseUrl: url, options: { concurrency: 16, once: true, maxSeconds: null, json: true, prepare: false } });
  const prepared = await cli(url, ["worker", "--once", "--prepare", "--concurrency", "4"], { config: { ...RLS, email: section } });
  assert.equal(prepared.code, 0, prepared.stderr);
  assert.deepEqual(prepared.handoff.options, { concurrency: 4, once: true, maxSeconds: null, json: false, prepare: true });
});

test("check --dkim-sample: a signature covering the one-click headers passes; one whose h= lacks List-Unsubscribe-Post, or none, fails by name", async () => {
  const privateKey = dkimKeys()[2][1];
  const head = ["From: news@acme.example", "To: ann@example.org", "Subject: Hi", "List-Unsubscribe: <https://app.acme.example/u1.x>"];
  const post = "List-Unsubscribe-Post: List-Unsubscribe=One-Click";
  const sign = (lines) => {
    const message = [...lines, "", "Hello", ""].join("\r\n");
    return core.emailDkimSign(new TextEncoder().encode(message), { domain: "acme.example", selector: "s1", privateKey }, randomBytes(32)) + message;
  };
  const samples = {
    "good.eml": sign([...head, post]),
    // Signed before the header was added, as a relay that adds it after signing would send it.
    "late-post.eml": sign(head).replace("Subject: Hi\r\n", `Subject: Hi\r\n${post}\r\n`),
    "unsigned.eml": [...head, post, "", "Hello", ""].join("\r\n"),
  };
  for (const [name, text] of Object.entries(samples)) writeFileSync(join(dir, name), text);
  const judge = async (file) => {
    const r = await cli(urlOf("postgres"), ["check", "--dkim-sample", file, "--json"], { config: null });
    return { code: r.code, failed: JSON.parse(r.stdout).results.filter((x) => !x.passed).map((x) => `${x.check}: ${x.message}`) };
  };
  assert.deepEqual(await judge("good.eml"), { code: 0, failed: [] });
  const late = await judge("late-post.eml");
  assert.equal(late.code, 1);
  assert.deepEqual(late.failed, ["signature covers list-unsubscribe-post: h= (from:to:subject:list-unsubscribe) lacks list-unsubscribe-post"]);
  assert.deepEqual(await judge("unsigned.eml"), { code: 1, failed: ["DKIM signature: the sample has no DKIM-Signature"] });
  const text = await cli(urlOf("postgres"), ["check", "--dkim-sample", "late-post.eml"], { config: null });
  assert.match(text.stdout, /smtp\(\{ dkim/);
  const missing = await cli(urlOf("postgres"), ["check", "--dkim-sample", "nope.eml"], { config: null });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read --dkim-sample .*nope\.eml/);
});

test("suppressions import: 10,000 CSV rows in one go, global and per tenant, honoured by the lookup; twice adds nothing; a bad row writes nothing and names its line; export reads back", async () => {
  const { url, owner, app } = await migratedDatabase("emcli_sup");
  const B = "0190a000-0000-7000-8000-00000000000b";
  const lines = ["address,reason,category,tenant_id,expires_at,note"];
  for (let i = 0; i < 10_000; i++) {
    const tenant = i % 2 === 0 ? "" : B;
    lines.push(`User${i}@Example.com,${i % 3 === 0 ? "hard_bounce" : ""},${i === 1 ? "notifications" : ""},${tenant},${i === 3 ? "2031-05-06T07:08:09Z" : ""},${i === 5 ? '"moved from provider X, ""old"" list"' : ""}`);
  }
  writeFileSync(join(dir, "list.csv"), `${lines.join("\r\n")}\r\n`);
  const first = await cli(url, ["suppressions", "import", "--file", "list.csv"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "imported 10000 suppressions: 10000 new, 0 already present\n");
  const again = await cli(url, ["suppressions", "import", "--file", "list.csv", "--json"]);
  assert.deepEqual(JSON.parse(again.stdout), { read: 10000, added: 0, present: 10000 });
  await owner.query("SELECT set_config('app.bypass_rls', 'true', false)");
  const { rows: counts } = await owner.query("SELECT count(*)::int AS n, count(tenant_id)::int AS tenant, count(*) FILTER (WHERE reason = 'hard_bounce')::int AS hard, count(*) FILTER (WHERE source = 'import')::int AS imported FROM email_suppressions");
  assert.deepEqual(counts, [{ n: 10000, tenant: 5000, hard: 3334, imported: 10000 }]);
  const { rows: special } = await owner.query("SELECT address, category, expires_at, note FROM email_suppressions WHERE lower(address) IN ('user1@example.com', 'user3@example.com', 'user5@example.com') ORDER BY address");
  assert.deepEqual(special.map((r) => [r.address, r.category, r.expires_at?.toISOString() ?? null, r.note]), [
    ["User1@Example.com", "notifications", null, null],
    ["User3@Example.com", null, "2031-05-06T07:08:09.000Z", null],
    ["User5@Example.com", null, null, 'moved from provider X, "old" list'],
  ]);
  // Stored as written; the send path's lookup matches them case-insensitively: global rows for every tenant,
  // tenant B's rows for B only.
  const lookup = (tenant, address) =>
    inScope(app, { "app.current_tenant": tenant }, () => app.query("SELECT suppressed FROM email_suppressed(ARRAY[sha256(convert_to($1, 'UTF8'))], 'transactional')", [address])).then((r) => r.rows[0].suppressed);
  assert.equal(await lookup(A, "user0@example.com"), true, "a global row blocks tenant A");
  assert.equal(await lookup(A, "user7@example.com"), false, "B's row does not block A");
  assert.equal(await lookup(B, "user7@example.com"), true);

  // One bad row anywhere: nothing is written, and the line is named.
  writeFileSync(join(dir, "bad.ndjson"), '{"address":"fresh1@example.com"}\n{"address":"fresh2@example.com","reason":"annoyed"}\n');
  const bad = await cli(url, ["suppressions", "import", "--file", "bad.ndjson"]);
  assert.equal(bad.code, 1);
  assert.equal(bad.errorCode, "EMAIL_INVALID_ARGUMENT");
  assert.match(bad.stderr, /line 2: reason/);
  const { rows: fresh } = await owner.query("SELECT count(*)::int AS n FROM email_suppressions WHERE address LIKE 'fresh%'");
  assert.deepEqual(fresh, [{ n: 0 }]);
  writeFileSync(join(dir, "good.ndjson"), `{"address":"fresh1@example.com","tenant_id":null}\n`);
  assert.equal((await cli(url, ["suppressions", "import", "--file", "good.ndjson", "--tenant", A])).stdout, "imported 1 suppressions: 1 new, 0 already present\n");
  const { rows: tenantOf } = await owner.query("SELECT tenant_id FROM email_suppressions WHERE address = 'fresh1@example.com'");
  assert.deepEqual(tenantOf, [{ tenant_id: A }], "--tenant for rows that name none");
  const usage = await cli(url, ["suppressions", "import"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--file <path>/);

  const exported = await cli(url, ["suppressions", "export", "-o", "out.csv"]);
  assert.equal(exported.stdout, `wrote 10001 suppressions to ${join(dir, "out.csv")}\n`);
  const text = (await cli(url, ["suppressions", "export"])).stdout;
  assert.equal(text.split("\n")[0], "address,reason,category,tenant_id,expires_at,note");
  assert.ok(text.includes(`User5@Example.com,manual,,${B},,"moved from provider X, ""old"" list"`), text.slice(0, 400));
  // Read back into a fresh database: the same rows.
  const second = await migratedDatabase("emcli_sup2");
  writeFileSync(join(dir, "back.csv"), text);
  assert.equal((await cli(second.url, ["suppressions", "import", "--file", "back.csv"])).stdout, "imported 10001 suppressions: 10001 new, 0 already present\n");
  const rowsOf = async (c) => {
    await c.query("SELECT set_config('app.bypass_rls', 'true', false)");
    return (await c.query("SELECT address, reason, category, tenant_id, expires_at, note FROM email_suppressions ORDER BY address, tenant_id")).rows;
  };
  assert.deepEqual(await rowsOf(second.owner), await rowsOf(owner));
});

test("suppressions list, add, remove: the API's plan and verdicts in system context; export --tenant", async () => {
  const { url, app } = await migratedDatabase("emcli_manage");
  const B = "0190a000-0000-7000-8000-00000000000b";
  const added = await cli(url, ["suppressions", "add", "Jane@Example.com", "--tenant", A, "--reason", "complaint", "--category", "marketing", "--note", "by phone"]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, new RegExp(`^added: complaint for tenant ${A} \\([0-9a-f-]{36}\\)\\n$`));
  assert.equal((await cli(url, ["suppressions", "add", "jane@example.com", "--tenant", A, "--reason", "complaint", "--category", "marketing"])).stdout, "already present: nothing added\n");
  const global = await cli(url, ["suppressions", "add", "gone@example.com", "--scope", "global", "--reason", "hard_bounce", "--json"]);
  const g = JSON.parse(global.stdout);
  assert.equal(g.added, true);
  assert.equal(g.suppression.tenantId, null);
  assert.equal(g.suppression.source, "cli");
  // The application role in A's scope: A's entry and the global one block, B's lookup sees the global only.
  const lookup = (tenant, address, category) =>
    inScope(app, { "app.current_tenant": tenant }, () => app.query("SELECT reason FROM email_suppressed(ARRAY[sha256(convert_to($1, 'UTF8'))], $2)", [address, category])).then((r) => r.rows[0].reason);
  assert.equal(await lookup(A, "jane@example.com", "marketing"), "complaint");
  assert.equal(await lookup(B, "jane@example.com", "marketing"), null);
  assert.equal(await lookup(B, "gone@example.com", "transactional"), "hard_bounce");

  for (let i = 0; i < 3; i++) assert.equal((await cli(url, ["suppressions", "add", `p${i}@example.com`, "--tenant", B])).code, 0);
  const all = JSON.parse((await cli(url, ["suppressions", "list", "--json"])).stdout);
  assert.equal(all.data.length, 5, "system context without --tenant lists every entry");
  const page = await cli(url, ["suppressions", "list", "--tenant", B, "--limit", "2"]);
  const cursor = /^more: --cursor (\S+)$/m.exec(page.stdout)?.[1];
  assert.ok(cursor, page.stdout);
  assert.equal(page.stdout.split("\n").filter((l) => l.includes(`  ${B}  `)).length, 2);
  const rest = await cli(url, ["suppressions", "list", "--tenant", B, "--limit", "2", "--cursor", cursor]);
  assert.equal(rest.stdout.split("\n").filter((l) => l.includes(`  ${B}  `)).length, 1);
  assert.doesNotMatch(rest.stdout, /^more:/m);
  assert.match((await cli(url, ["suppressions", "list", "--scope", "global"])).stdout, /  global  gone@example\.com  hard_bounce  all categories  /);

  // Export of one tenant's entries only.
  const exported = (await cli(url, ["suppressions", "export", "--tenant", B])).stdout.trim().split("\n");
  assert.deepEqual(exported.slice(1).map((l) => l.split(",")[0]).sort(), ["p0@example.com", "p1@example.com", "p2@example.com"]);

  // Usage and input errors name the fix or the field; nothing is written.
  const noTenant = await cli(url, ["suppressions", "add", "x@example.com"]);
  assert.equal(noTenant.code, 2);
  assert.match(noTenant.stderr, /--tenant <uuid>.*--scope global/);
  const noAddress = await cli(url, ["suppressions", "remove", "--tenant", A]);
  assert.equal(noAddress.code, 2);
  const badReason = await cli(url, ["suppressions", "add", "x@example.com", "--tenant", A, "--reason", "annoyed"]);
  assert.equal(badReason.code, 1);
  assert.equal(badReason.errorCode, "EMAIL_INVALID_ARGUMENT");
  assert.match(badReason.stderr, /`reason`/);
  const badAddress = await cli(url, ["suppressions", "add", "not-an-address", "--tenant", A]);
  assert.equal(badAddress.errorCode, "EMAIL_INVALID_ADDRESS");
  assert.equal(JSON.parse((await cli(url, ["suppressions", "list", "--json"])).stdout).data.length, 5);

  assert.equal((await cli(url, ["suppressions", "remove", "jane@example.com", "--tenant", B])).stdout, "removed 0 suppressions\n");
  assert.equal((await cli(url, ["suppressions", "remove", "jane@example.com", "--tenant", A])).stdout, "removed 1 suppressions\n");
  assert.equal(await lookup(A, "jane@example.com", "marketing"), null);
  assert.equal((await cli(url, ["suppressions", "remove", "gone@example.com", "--scope", "global"])).stdout, "removed 1 suppressions\n");
  assert.equal(await lookup(B, "gone@example.com", "transactional"), null);
});

test("messages show: a message's state, recipients and attempts; another tenant's or an unknown id is EMAIL_NOT_FOUND; stats per tenant with rate warnings", async () => {
  const { url, owner } = await migratedDatabase("emcli_show");
  const B = "0190a000-0000-7000-8000-00000000000b";
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const email = betterEmail({
      database: sqlEmailAdapter(pool),
      transport: captureTransport(),
      from: "Acme <hello@acme.example>",
      unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
      secretsKey: randomBytes(32).toString("base64"),
    });
    assert.equal((await cli(url, ["suppressions", "add", "gone@example.com", "--scope", "global", "--reason", "hard_bounce"])).code, 0);
    const c = await pool.connect();
    let sent;
    try {
      await c.query("BEGIN");
      await c.query("SELECT set_config('app.current_tenant', $1, true)", [A]);
      sent = await email.send({ to: ["jane@example.com", "gone@example.com"], subject: "Your receipt", text: "Thanks" }, { tx: c });
      await c.query("COMMIT");
    } finally {
      c.release();
    }
    assert.equal((await email.drain({ maxMs: 5000 })).handed, 1);

    const shown = await cli(url, ["messages", "show", sent.id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^${sent.id}  sent  \\(transactional, priority \\d\\)  tenant ${A}\\n`));
    assert.match(shown.stdout, /subject Your receipt/);
    assert.match(shown.stdout, /^recipients:\n  to gone@example\.com  suppressed \(hard_bounce\)\n  to jane@example\.com  sent\n/m);
    assert.match(shown.stdout, /^attempts:\n  #1 \S+  \S+  \d+ ms  sent  /m);
    assert.match(shown.stdout, /^events:\n  none\n/m);
    const json = JSON.parse((await cli(url, ["messages", "show", sent.id, "--tenant", A, "--json"])).stdout);
    assert.equal(json.id, sent.id);
    assert.equal(json.status, "sent");
    assert.deepEqual(json.recipients.map((r) => [r.address, r.status]), [["gone@example.com", "suppressed"], ["jane@example.com", "sent"]]);
    assert.equal(json.attempts.length, 1);
    assert.equal(json.attempts[0].outcome, "sent");

    const other = await cli(url, ["messages", "show", sent.id, "--tenant", B]);
    assert.equal(other.code, 1);
    assert.equal(other.errorCode, "EMAIL_NOT_FOUND");
    const bad = await cli(url, ["messages", "show", "eml_nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /eml_id/);
    assert.equal((await cli(url, ["messages", "list"])).code, 2);

    // stats: A sent one message to one deliverable recipient; a queued one waits for B.
    const q = await pool.connect();
    try {
      await q.query("BEGIN");
      await q.query("SELECT set_config('app.current_tenant', $1, true)", [B]);
      await email.send({ to: "later@example.com", subject: "Later", text: "x", sendAt: new Date(Date.now() + 3_600_000) }, { tx: q });
      await q.query("COMMIT");
    } finally {
      q.release();
    }
    const stats = JSON.parse((await cli(url, ["stats", "--json"])).stdout);
    const byTenant = Object.fromEntries(stats.tenants.map((t) => [t.tenantId, t]));
    assert.deepEqual(
      [byTenant[A].queued, byTenant[A].sent, byTenant[A].failed, byTenant[A].handed7d, byTenant[A].complaints7d, byTenant[A].warnings],
      [0, 1, 0, 1, 0, []],
    );
    assert.equal(byTenant[B].queued, 1);
    assert.ok(byTenant[B].oldestQueuedSeconds >= 0);
    assert.equal(byTenant[B].sent, 0);
    // One complaint against one recipient handed off: 100 %, above the default 0.1 %.
    await owner.query("SELECT set_config('app.bypass_rls', 'true', false)");
    await owner.query("INSERT INTO email_events (id, tenant_id, provider, provider_event_id, type, address_key, occurred_at) VALUES (gen_random_uuid(), $1, 'resend', 'ev1', 'complained', 'jane@example.com', now())", [A]);
    const text = await cli(url, ["stats", "--tenant", A]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^tenant\s+queued\s+oldest s\s+sent 24h/);
    assert.match(text.stdout, new RegExp(`^warning: tenant ${A}: complaint rate 100\\.00% over 7 days is above 0\\.10%$`, "m"));
    assert.doesNotMatch(text.stdout, new RegExp(B));
    assert.doesNotMatch((await cli(url, ["stats", "--tenant", A, "--complaint-rate", "1"])).stdout, /warning/);
    const badWindow = await cli(url, ["stats", "--window", "2d"]);
    assert.equal(badWindow.code, 2);
    assert.match(badWindow.stderr, /--window/);
    assert.equal((await cli(url, ["stats", "--bounce-rate", "5"])).code, 2);
  } finally {
    await pool.end();
  }
});

test("preview: serves every template with its sample props on 127.0.0.1; --tenant renders the tenant's stored override; bad options are usage errors", async () => {
  for (const args of [["preview", "--port", "70000"], ["preview", "--tenant", "acme"]]) {
    const r = await cli(urlOf("postgres"), args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, args[1] === "--port" ? /--port "70000"/ : /--tenant "acme" is not a UUID/);
  }
  const { url, app } = await migratedDatabase("emcli_preview");
  // Tenant A's override, stored in A's scope as `email.templates.save` would.
  await app.query("BEGIN");
  await app.query("SELECT set_config('app.current_tenant', $1, true)", [A]);
  await app.query("INSERT INTO email_templates (id, tenant_id, name, locale, version, subject, html) VALUES (gen_random_uuid(), $1, 'welcome', '', 1, 'Hallo {{ name }}', '<p>Willkommen {{ name }}</p>')", [A]);
  await app.query("COMMIT");
  const cwd = project("email-preview", {
    "better.config.mjs": `import { defineTemplate, html } from "@usebetterdev/email";
import { captureTransport } from "@usebetterdev/email/testing";
export default {
  tenant: { tenantTables: [] },
  email: {
    from: "Acme <hello@acme.example>",
    transport: captureTransport(),
    unsubscribe: { baseUrl: "https://acme.example/u" },
    secretsKey: ${JSON.stringify(randomBytes(32).toString("base64"))},
    templates: {
      welcome: defineTemplate({ name: "welcome", subject: (p) => "Welcome, " + p.name, html: (p) => html\`<p>Hello \${p.name}</p>\`, sample: { name: "<Sam>" }, editable: true }),
      receipt: defineTemplate({ name: "receipt", subject: () => "Receipt", text: (p) => "Total " + p.total, sample: { total: "9.90" } }),
      bare: defineTemplate({ name: "bare", subject: () => "Bare", text: () => "x" }),
    },
  },
};
`,
  });
  const serve = async (extra) => {
    const child = spawn(process.execPath, [bin, "preview", "--port", "0", ...extra], { cwd, env: { ...process.env, DATABASE_URL: url } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
    const end = Date.now() + 30_000;
    while (!/serving 3 templates at (\S+)/.test(stderr) && Date.now() < end) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const base = /serving 3 templates at (\S+)/.exec(stderr)?.[1];
    assert.ok(base?.startsWith("http://127.0.0.1:"), stderr);
    const get = async (path) => {
      const r = await fetch(new URL(path, base));
      return { status: r.status, body: await r.text(), subject: decodeURIComponent(r.headers.get("x-email-subject") ?? ""), source: r.headers.get("x-email-source") };
    };
    return { base, get, stop: async () => (child.kill("SIGTERM"), exited) };
  };
  const plain = await serve([]);
  const index = await plain.get("/");
  assert.equal(index.status, 200);
  assert.match(index.body, /<b>welcome<\/b> \(code\): Welcome, &lt;Sam&gt;/);
  assert.match(index.body, /<b>receipt<\/b> \(code\): Receipt <a href="\/t\/receipt.txt">text<\/a>/);
  assert.match(index.body, /bare: no <code>sample<\/code>/);
  assert.deepEqual(await plain.get("/t/welcome"), { status: 200, body: "<p>Hello &lt;Sam&gt;</p>", subject: "Welcome, <Sam>", source: "code" });
  assert.deepEqual(await plain.get("/t/receipt.txt"), { status: 200, body: "Total 9.90", subject: "Receipt", source: "code" });
  assert.equal((await plain.get("/t/receipt")).status, 404, "no html part");
  assert.equal((await plain.get("/t/nope")).status, 404);
  const csp = await fetch(new URL("/t/welcome", plain.base));
  assert.equal(csp.headers.get("content-security-policy"), "sandbox");
  // Another Host (a DNS-rebinding page) is refused.
  const foreign = await new Promise((resolve, reject) => {
    const u = new URL(plain.base);
    httpRequest({ host: "127.0.0.1", port: u.port, path: "/t/welcome", headers: { host: "evil.example" } }, (res) => (res.resume(), resolve(res.statusCode))).on("error", reject).end();
  });
  assert.equal(foreign, 403);
  const done = await plain.stop();
  assert.equal(done.code, 0, done.stderr);
  // Tenant A's override of `welcome` (editable), escaped as a send would be.
  const tenant = await serve(["--tenant", A]);
  assert.deepEqual(await tenant.get("/t/welcome"), { status: 200, body: "<p>Willkommen &lt;Sam&gt;</p>", subject: "Hallo <Sam>", source: "database" });
  assert.equal((await tenant.get("/t/receipt.txt")).source, "code");
  const stopped = await tenant.stop();
  assert.equal(stopped.code, 0, stopped.stderr);
});
