// @usebetterdev/audit/prisma with a real Prisma 7 client (driver adapter over node-postgres)
// against PostgreSQL 15: images from the database keyed by Prisma field name, one entry per affected
// row, audit rows in the mutation's transaction, fail-closed, and the adapter's storage.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import core from "@usebetter-rs/core";
import { betterAudit } from "@usebetterdev/audit";
import { prismaAuditAdapter, withAuditExtension } from "@usebetterdev/audit/prisma";
import { connectAs, fixture, freshDatabase, requireEnv } from "./helpers/db.mjs";
import { assertSealKeyRefused, withoutSealKey } from "./helpers/seal.mjs";

let dbh;
let pool;
let prisma;
let audit;
let db;

before(async () => {
  dbh = await freshDatabase("auditprisma");
  const c = await connectAs("app", "app", dbh.name);
  await c.query(fixture("audit-logs.sql"));
  await c.query(`CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE, full_name text, role text NOT NULL DEFAULT 'user',
      balance bigint NOT NULL DEFAULT 0, secret text, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE memberships (org_id int NOT NULL, user_id int NOT NULL, role text NOT NULL, PRIMARY KEY (org_id, user_id));
    CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
    CREATE FUNCTION lower_email() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.email := lower(NEW.email); RETURN NEW; END $$;
    CREATE TRIGGER accounts_lower_email BEFORE INSERT OR UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION lower_email();`);
  await c.end();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // A pool of one: a second connection for the audit write would wait forever.
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url.toString(), max: 1 }) });
  audit = betterAudit({ database: prismaAuditAdapter(prisma), auditTables: ["accounts", "memberships"] });
  db = withAuditExtension(prisma, audit.captureLog);
});
after(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await dbh?.drop();
});

const logs = async () => (await pool.query(`SELECT operation, record_id, before_data, after_data, diff, metadata FROM audit_logs ORDER BY "timestamp", record_id`)).rows;
const reset = () => pool.query("TRUNCATE audit_logs; TRUNCATE accounts RESTART IDENTITY; TRUNCATE memberships; TRUNCATE notes RESTART IDENTITY");
const count = async (table) => (await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;

test("create: stored values keyed by field name, bigint as string, ISO timestamps, the caller's selection kept", async () => {
  await reset();
  const created = await db.account.create({ data: { email: "A@X.io", fullName: "A", balance: 9007199254740993n }, select: { email: true } });
  assert.deepEqual(created, { email: "a@x.io" }, "the key added for capture is not returned");
  const [a] = await logs();
  assert.equal(a.operation, "INSERT");
  assert.equal(a.record_id, "1");
  assert.equal(a.after_data.email, "a@x.io", "the trigger's value");
  assert.equal(a.after_data.role, "user", "the column default");
  assert.equal(a.after_data.fullName, "A", "the Prisma field, as the app sees the row");
  assert.equal(a.after_data.full_name, undefined);
  assert.match(a.after_data.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, "Date.prototype.toISOString() form");
  assert.equal(a.after_data.balance, "9007199254740993", "int8 kept exact");
  assert.equal(a.before_data, null);
});

test("update and upsert: locked before image, stored after image, diff; upsert recorded as what happened", async () => {
  await reset();
  await pool.query(`INSERT INTO accounts (email, balance) VALUES ('a@x.io', 10)`);
  const out = await db.account.update({ where: { email: "a@x.io" }, data: { balance: { increment: 5 }, fullName: "New" } });
  assert.equal(out.balance, 15n, "Prisma's own result");
  await db.account.upsert({ where: { email: "a@x.io" }, create: { email: "a@x.io" }, update: { role: "admin" } });
  const created = await db.account.upsert({ where: { email: "n@x.io" }, create: { email: "n@x.io" }, update: { role: "admin" } });
  const [u, up, ins] = await logs();
  assert.equal(u.operation, "UPDATE");
  assert.equal(u.before_data.balance, "10");
  assert.equal(u.after_data.balance, "15");
  assert.deepEqual(u.diff.changedFields, ["fullName", "balance"]);
  assert.deepEqual([up.operation, up.before_data.role, up.after_data.role], ["UPDATE", "user", "admin"]);
  assert.deepEqual([ins.operation, ins.record_id, ins.before_data], ["INSERT", String(created.id), null]);
});

test("updateMany / deleteMany / createMany: one entry per affected row, none for untouched rows", async () => {
  await reset();
  const made = await db.account.createMany({ data: [{ email: "a@x.io", balance: 1 }, { email: "b@x.io", balance: 2 }, { email: "c@x.io", balance: 3 }] });
  assert.deepEqual(made, { count: 3 });
  const upd = await db.account.updateMany({ where: { balance: { gte: 2 } }, data: { role: "gold" } });
  assert.deepEqual(upd, { count: 2 });
  assert.deepEqual(await db.account.updateMany({ where: { email: "nobody" }, data: { role: "x" } }), { count: 0 });
  const del = await db.account.deleteMany({ where: { role: "gold" } });
  assert.deepEqual(del, { count: 2 });
  const all = await logs();
  const ops = (op) => all.filter((l) => l.operation === op).map((l) => l.record_id).sort();
  assert.deepEqual(ops("INSERT"), ["1", "2", "3"]);
  assert.deepEqual(ops("UPDATE"), ["2", "3"]);
  assert.deepEqual(ops("DELETE"), ["2", "3"]);
  const d = all.find((l) => l.operation === "DELETE" && l.record_id === "3");
  assert.equal(d.before_data.role, "gold");
  assert.equal(d.after_data, null);
  assert.equal(all.length, 7, "0 affected rows: 0 entries");
});

test("composite keys and delete", async () => {
  await reset();
  await db.membership.create({ data: { orgId: 1, userId: 2, role: "admin" } });
  await db.membership.delete({ where: { orgId_userId: { orgId: 1, userId: 2 } } });
  const [i, d] = await logs();
  assert.equal(i.record_id, '["1","2"]');
  assert.deepEqual(d.before_data, { orgId: 1, userId: 2, role: "admin" });
  assert.equal(d.operation, "DELETE");
});

test("same transaction: rollback removes the audit rows, commit keeps both, pool of one never deadlocks", async () => {
  await reset();
  await assert.rejects(
    db.$transaction(async (tx) => {
      await tx.account.create({ data: { email: "t@x.io" } });
      const [{ n }] = await tx.$queryRawUnsafe("SELECT count(*)::int AS n FROM audit_logs");
      assert.equal(n, 1, "visible inside the transaction");
      throw new Error("rollback");
    }),
    /rollback/,
  );
  assert.equal(await count("audit_logs"), 0);
  assert.equal(await count("accounts"), 0);
  await db.$transaction(async (tx) => {
    await tx.account.create({ data: { email: "k@x.io" } });
    await tx.account.update({ where: { email: "k@x.io" }, data: { role: "admin" } });
  });
  assert.deepEqual((await logs()).map((l) => l.operation), ["INSERT", "UPDATE"]);
});

test("fail-closed: a failed capture fails the mutation; onError keeps it and is told", async () => {
  await reset();
  const broken = betterAudit({ database: prismaAuditAdapter(prisma), auditTables: ["accounts"], beforeLog: [() => { throw new Error("audit store down"); }] });
  await assert.rejects(withAuditExtension(prisma, broken.captureLog).account.create({ data: { email: "z@x.io" } }), /audit store down/);
  assert.equal(await count("accounts"), 0, "mutation rolled back");
  const errors = [];
  await withAuditExtension(prisma, broken.captureLog, { onError: (e) => errors.push(e.message) }).account.create({ data: { email: "z@x.io" } });
  assert.deepEqual(errors, ["audit store down"]);
  assert.equal(await count("accounts"), 1);
});

test("batch transactions are refused for audited tables with a clear error; other tables and reads pass through", async () => {
  await reset();
  await assert.rejects(db.$transaction([db.account.create({ data: { email: "b@x.io" } })]), /cannot be recorded inside \$transaction\(\[\.\.\.\]\)/);
  assert.equal(await count("accounts"), 0);
  await db.$transaction([db.note.create({ data: { body: "x" } })]);
  await db.note.update({ where: { id: 1 }, data: { body: "y" } });
  assert.equal((await db.note.findMany()).length, 1);
  assert.equal(await count("audit_logs"), 0);
});

test("options: metadata merged, bulk mode, skipBeforeCapture, tableNameTransform", async () => {
  await reset();
  const ext = withAuditExtension(prisma, audit.captureLog, { metadata: { adapter: "prisma" }, bulkMode: "bulk", skipBeforeCapture: ["accounts"] });
  await audit.withContext({ actorId: "u1", metadata: { requestId: "r1" } }, async () => {
    await ext.account.createMany({ data: [{ email: "a@x.io" }, { email: "b@x.io" }] });
    await ext.account.update({ where: { email: "a@x.io" }, data: { role: "x" } });
  });
  const [bulk, upd] = await logs();
  assert.deepEqual([bulk.operation, bulk.record_id, bulk.after_data], ["INSERT", "unknown", null]);
  assert.deepEqual(upd.metadata, { requestId: "r1", adapter: "prisma" });
  assert.equal(upd.before_data, null, "before image skipped on request");
  assert.equal(upd.after_data.role, "x");
  const mapped = betterAudit({ database: prismaAuditAdapter(prisma), auditTables: ["Note"] });
  await withAuditExtension(prisma, mapped.captureLog, { tableNameTransform: (m) => m }).note.create({ data: { body: "n" } });
  assert.equal((await pool.query(`SELECT table_name FROM audit_logs WHERE table_name = 'Note'`)).rows.length, 1);
});

test("prismaAuditAdapter: query, pagination, by id, stats and purge through Prisma", async () => {
  await reset();
  for (let i = 0; i < 5; i++) await db.account.create({ data: { email: `p${i}@x.io` } });
  const first = await audit.query().resource("accounts").limit(3).list();
  assert.equal(first.entries.length, 3);
  assert.ok(first.nextCursor);
  const second = await audit.query().resource("accounts").limit(3).after(first.nextCursor).list();
  assert.equal(second.entries.length, 2);
  const ids = new Set([...first.entries, ...second.entries].map((e) => e.recordId));
  assert.equal(ids.size, 5);
  const adapter = prismaAuditAdapter(prisma);
  const one = await adapter.getLogById(first.entries[0].id);
  assert.equal(one.tableName, "accounts");
  assert.ok(one.timestamp instanceof Date);
  assert.equal(await adapter.getLogById("not-a-uuid"), null);
  const stats = await adapter.getStats();
  assert.equal(stats.totalLogs, 5);
  assert.deepEqual(stats.operationBreakdown, { INSERT: 5 });
  assert.deepEqual(await adapter.purgeLogs({ before: new Date(Date.now() + 60_000), tableName: "accounts" }), { deletedCount: 5 });
  assert.throws(() => prismaAuditAdapter({}), { name: "TypeError", code: "INVALID_ARGUMENT", message: /needs a Prisma client/ });
});

test("sealing through Prisma: each entry sealed in the mutation's transaction; the chain verifies in this backend", async () => {
  await reset();
  const KEY = "prisma-seal-key-kept-outside-the-database";
  const sealed = betterAudit({ database: prismaAuditAdapter(prisma, { seal: { key: KEY } }), auditTables: ["accounts"] });
  const sdb = withAuditExtension(prisma, sealed.captureLog);
  await sdb.account.create({ data: { email: "s1@x.io", balance: 9007199254740993n } });
  await sdb.$transaction(async (tx) => {
    await tx.account.create({ data: { email: "s2@x.io" } });
    await tx.account.updateMany({ data: { role: "x" } });
  });
  const { rows } = await pool.query(`SELECT id, to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "timestamp", table_name, operation, record_id,
      actor_id, before_data, after_data, diff, label, description, severity, compliance, notify, reason, metadata, redacted_fields, tenant_id::text,
      seq::int, prev_hash, hash FROM audit_logs ORDER BY seq`);
  assert.deepEqual(rows.map((r) => r.seq), [1, 2, 3, 4]);
  const chain = rows.map(({ seq, prev_hash, hash, ...row }) => ({ seq, prevHash: prev_hash, hash, row: Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null)) }));
  assert.equal(core.auditVerifyRows(chain, KEY, null), null);
  chain[2].row.actor_id = "mallory";
  assert.deepEqual(core.auditVerifyRows(chain, KEY, null)?.kind, "edited");
});

test("sealing through Prisma needs a key of at least 32 bytes, or an explicit opt-out", () =>
  withoutSealKey(() => {
    const refused = (seal) => assertSealKeyRefused(() => prismaAuditAdapter(prisma, { seal }));
    refused(true);
    refused({ key: "k" });
    refused({ key: "x".repeat(31) });
    assert.throws(() => prismaAuditAdapter(prisma, { seal: { unkeyed: true, key: "x".repeat(32) } }), { code: "AUDIT_SEAL_KEY", message: /use one or the other/ });
    process.env.AUDIT_SEAL_KEY = "short";
    refused(true);
    assert.ok(prismaAuditAdapter(prisma, { seal: { unkeyed: true } }));
    assert.ok(prismaAuditAdapter(prisma, { seal: { key: "x".repeat(32) } }));
  }));
