// Drop-in for existing users of @usebetterdev/audit 0.8.1: an audit_logs table made from the
// reference's schema keeps working (writes go to the columns it has, one warning names the
// upgrade), a missing table names its fix, and the caller's explicit options win over defaults.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { integer, pgTable, primaryKey, serial, text, timestamp } from "drizzle-orm/pg-core";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { connectAs, fixture } from "./helpers/db.mjs";
import { projects, tenantDatabase } from "./helpers/app.mjs";

const SEAL_KEY = "k".repeat(40);
let env;
const warnings = [];
const warn = console.warn;

before(async () => {
  env = await tenantDatabase("auditcompat", { poolSize: 2 });
  const c = await connectAs("app", "app", new URL(env.url).pathname.slice(1));
  await c.query(fixture("reference-audit-logs.sql"));
  await c.query(`CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, full_name text, created_at timestamptz NOT NULL DEFAULT '2020-01-01T00:00:00Z');
    CREATE TABLE memberships (org_id int NOT NULL, user_id int NOT NULL, role text NOT NULL, PRIMARY KEY (org_id, user_id))`);
  await c.end();
  console.warn = (...args) => warnings.push(args.join(" "));
});

after(async () => {
  console.warn = warn;
  await env?.close();
});

const users = pgTable("users", {
  id: serial("id").primaryKey(),
  email: text("email").notNull(),
  fullName: text("full_name"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
const memberships = pgTable("memberships", { orgId: integer("org_id").notNull(), userId: integer("user_id").notNull(), role: text("role").notNull() }, (t) => [
  primaryKey({ columns: [t.orgId, t.userId] }),
]);

const bypass = async (query, params = []) => {
  const c = await connectAs("app", "app", new URL(env.url).pathname.slice(1));
  try {
    await c.query("BEGIN; SELECT set_config('app.bypass_rls', 'true', true)");
    return (await c.query(query, params)).rows;
  } finally {
    await c.query("COMMIT");
    await c.end();
  }
};
const entries = (table) => bypass(`SELECT operation, record_id, before_data, after_data, diff FROM audit_logs WHERE table_name = $1 ORDER BY "timestamp"`, [table]);

test("a reference-made audit_logs (17 columns): audited writes succeed on every path with one warning naming `better-audit migrate`", async () => {
  warnings.length = 0;
  // In-statement capture inside a tenant scope: the entry would carry tenant_id.
  const audit = betterAudit({ database: drizzleAuditAdapter(env.db), auditTables: ["projects"] });
  const tenant = betterTenant({ database: drizzleDatabase(withAuditProxy(env.db, audit.captureLog)), tenantResolver: { header: "x-tenant-id" } });
  const [made] = await tenant.runAs(env.ids.acme, (db) => db.insert(projects).values({ name: "inline" }).returning());
  await tenant.runAs(env.ids.acme, (db) => db.update(projects).set({ name: "inline-2" }).where(eq(projects.id, made.id)));
  // The JavaScript pipeline (a beforeLog hook forces it).
  const piped = betterAudit({ database: drizzleAuditAdapter(env.db), auditTables: ["projects"], beforeLog: [() => {}] });
  await tenant.runAs(env.ids.globex, (db) => withAuditProxy(db, piped.captureLog).insert(projects).values({ name: "piped" }));
  // Sealing configured: the table cannot hold seals yet, so entries are written unsealed.
  const sealed = betterAudit({ database: drizzleAuditAdapter(env.db, { seal: { key: SEAL_KEY } }), auditTables: ["projects"] });
  await tenant.runAs(env.ids.globex, (db) => withAuditProxy(db, sealed.captureLog).insert(projects).values({ name: "sealed" }));
  await tenant.runAs(env.ids.globex, (db) => withAuditProxy(db, sealed.captureLog).insert(projects).values({ name: "sealed-2" }));

  const rows = await entries("projects");
  assert.deepEqual(rows.map((r) => [r.operation, r.after_data.name]), [["INSERT", "inline"], ["UPDATE", "inline-2"], ["INSERT", "piped"], ["INSERT", "sealed"], ["INSERT", "sealed-2"]]);
  assert.deepEqual(Object.keys(rows[0].after_data).sort(), ["id", "name", "tenantId"], "property names");
  assert.deepEqual(rows[1].diff.changedFields, ["name"]);
  const upgrade = warnings.filter((w) => w.includes("audit_logs lacks"));
  assert.equal(upgrade.length, 3, `one warning per adapter, not per write:\n${warnings.join("\n")}`);
  for (const w of upgrade) {
    assert.match(w, /tenant_id, seq, prev_hash, hash/);
    assert.match(w, /no tenant attribution and sealing/);
    assert.match(w, /Run `better-audit migrate`/);
  }
  assert.equal(upgrade.filter((w) => /Sealing is configured but stays off/.test(w)).length, 1, "the sealed adapter says sealing is off");
});

test("no audit_logs table: the audited write fails closed with `audit_logs does not exist: run \\`better-audit migrate\\``", async () => {
  const bare = await tenantDatabase("auditnotable", { poolSize: 1 });
  try {
    const audit = betterAudit({ database: drizzleAuditAdapter(bare.db), auditTables: ["projects"] });
    const tenant = betterTenant({ database: drizzleDatabase(withAuditProxy(bare.db, audit.captureLog)), tenantResolver: { header: "x-tenant-id" } });
    for (const capture of [audit.captureLog, betterAudit({ database: drizzleAuditAdapter(bare.db), auditTables: ["projects"], beforeLog: [() => {}] }).captureLog]) {
      const err = await tenant
        .runAs(bare.ids.acme, (db) => withAuditProxy(db, capture).insert(projects).values({ name: "never" }))
        .catch((e) => e);
      assert.equal(err?.code, "AUDIT_TABLE_MISSING", String(err));
      assert.match(err.message, /audit_logs does not exist: run `better-audit migrate`/);
    }
    const left = await tenant.runAs(bare.ids.acme, (db) => db.select().from(projects).where(eq(projects.name, "never")));
    assert.deepEqual(left, [], "the write did not happen");
  } finally {
    await bare.close();
  }
});

test("explicit options win: imageKeys 'column', skipBeforeState, primaryKey, an export's .limit()", async () => {
  const audit = betterAudit({ database: drizzleAuditAdapter(env.db), auditTables: ["users", "memberships"] });
  const byColumn = withAuditProxy(env.db, audit.captureLog, { imageKeys: "column" });
  await byColumn.insert(users).values({ email: "a@x.io", fullName: "A" });
  const [byName] = await entries("users");
  assert.deepEqual(byName.after_data, { id: 1, email: "a@x.io", full_name: "A", created_at: "2020-01-01T00:00:00.000Z" });
  assert.throws(() => withAuditProxy(env.db, audit.captureLog, { imageKeys: "snake" }), (e) => e.code === "INVALID_CONFIG" && /imageKeys/.test(e.message));

  // skipBeforeState: no before image, so every field counts as new (as a captureLog call without
  // `before`), on both capture paths.
  const piped = betterAudit({ database: drizzleAuditAdapter(env.db), auditTables: ["users"], beforeLog: [() => {}] });
  for (const [capture, skip] of [[audit.captureLog, ["users"]], [piped.captureLog, true]]) {
    const db = withAuditProxy(env.db, capture, { skipBeforeState: skip });
    await db.update(users).set({ fullName: `skipped-${skip}` }).where(eq(users.id, 1));
  }
  const updates = (await entries("users")).filter((r) => r.operation === "UPDATE");
  assert.equal(updates.length, 2);
  for (const u of updates) {
    assert.equal(u.before_data, null, "no before image");
    assert.deepEqual(u.diff.changedFields, ["id", "email", "fullName", "createdAt"]);
    assert.ok(u.diff.changes.every((c) => !("old" in c)), "no old values");
    assert.match(u.after_data.fullName, /^skipped-/);
  }
  await withAuditProxy(env.db, audit.captureLog, { skipBeforeState: ["users"] }).delete(users).where(eq(users.id, 1));
  const [del] = (await entries("users")).filter((r) => r.operation === "DELETE");
  assert.deepEqual([del.record_id, del.before_data], ["1", null]);

  // primaryKey names the identifying key of a table without a single-column primary key.
  await withAuditProxy(env.db, audit.captureLog, { primaryKey: "userId" }).insert(memberships).values({ orgId: 7, userId: 8, role: "admin" });
  await withAuditProxy(env.db, audit.captureLog).insert(memberships).values({ orgId: 7, userId: 9, role: "admin" });
  assert.deepEqual((await entries("memberships")).map((r) => r.record_id), ["8", '["7","9"]']);

  // An export stops at the query's explicit limit; without one it streams everything.
  for (let i = 0; i < 5; i++) await withAuditProxy(env.db, audit.captureLog).insert(users).values({ email: `e${i}@x.io` });
  const total = (await bypass("SELECT count(*)::int AS n FROM audit_logs"))[0].n;
  const lines = async (res) => (await res.text()).trim().split("\n").length;
  assert.equal(await lines(audit.exportResponse({ format: "json", query: audit.query().limit(3) })), 3);
  assert.equal(await lines(audit.exportResponse({ format: "json", query: audit.query().limit(3), batchSize: 2 })), 3, "across pages too");
  assert.equal(await lines(audit.exportResponse({ format: "json", query: audit.query() })), total);
  assert.ok(total > 3);
});
