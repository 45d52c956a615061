// withAuditProxy against PostgreSQL 15: before/after come from the database in the same
// statement, audit rows are written in the mutation's transaction, and failures fail closed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import postgres from "postgres";
import { drizzle } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import { eq, sql } from "drizzle-orm";
import { bigint, bigserial, integer, numeric, pgTable, primaryKey, serial, text, timestamp } from "drizzle-orm/pg-core";
import { betterAudit } from "@usebetterdev/audit";
import { auditLogs, buildOrderBy, buildWhereConditions, drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { connectAs, fixture, freshDatabase, requireEnv } from "./helpers/db.mjs";

const users = pgTable("users", {
  id: serial("id").primaryKey(),
  email: text("email").notNull(),
  fullName: text("full_name"),
  role: text("role").notNull().default("user"),
  balance: integer("balance").notNull().default(0),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
const memberships = pgTable("memberships", { orgId: integer("org_id").notNull(), userId: integer("user_id").notNull(), role: text("role").notNull() }, (t) => [
  primaryKey({ columns: [t.orgId, t.userId] }),
]);

let dbh;
let pool;
let raw;
let audit;
let db;

before(async () => {
  dbh = await freshDatabase("auditproxy");
  const c = await connectAs("app", "app", dbh.name);
  await c.query(fixture("audit-logs.sql"));
  await c.query(`CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, full_name text, role text NOT NULL DEFAULT 'user',
    balance integer NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE memberships (org_id int NOT NULL, user_id int NOT NULL, role text NOT NULL, PRIMARY KEY (org_id, user_id));
    CREATE FUNCTION lower_email() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.email := lower(NEW.email); RETURN NEW; END $$;
    CREATE TRIGGER users_lower_email BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION lower_email();`);
  await c.end();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 1 }); // a pool of one: any second connection would deadlock
  raw = drizzle(pool);
  audit = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["users", "memberships"] });
  db = withAuditProxy(raw, audit.captureLog);
});
after(async () => {
  await pool?.end();
  await dbh?.drop();
});

// Rows written in-statement carry microsecond timestamps, pipeline rows JavaScript's
// milliseconds; tests that mix them look rows up by record id instead of relying on order.
const logs = async () => (await pool.query(`SELECT operation, record_id, before_data, after_data, diff FROM audit_logs ORDER BY "timestamp", record_id`)).rows;
const reset = () => pool.query("TRUNCATE audit_logs; TRUNCATE users RESTART IDENTITY; TRUNCATE memberships");

test("insert: real stored values (serial, defaults, trigger), one row each, caller gets drizzle's result", async () => {
  await reset();
  const rows = await db.insert(users).values([{ email: "A@X.io" }, { email: "b@x.io", fullName: "B" }]).returning({ id: users.id, email: users.email });
  assert.deepEqual(rows, [{ id: 1, email: "a@x.io" }, { id: 2, email: "b@x.io" }]);
  const [a, b] = await logs();
  assert.equal(a.operation, "INSERT");
  assert.equal(a.record_id, "1");
  assert.equal(a.after_data.email, "a@x.io", "trigger-modified value");
  assert.equal(a.after_data.role, "user", "column default");
  assert.match(a.after_data.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, "a timestamp as Date.prototype.toISOString() writes it");
  assert.equal(b.after_data.fullName, "B", "keyed by Drizzle property name, as the reference");
  assert.equal(b.after_data.full_name, undefined);
  const plain = await db.insert(users).values({ email: "c@x.io" });
  assert.equal(plain.rowCount, 1);
});

test("update: before and after from the same statement, sql expressions recorded as stored, diff", async () => {
  await reset();
  await raw.insert(users).values([{ email: "a@x.io", balance: 10 }, { email: "b@x.io", balance: 20 }]);
  const out = await db.update(users).set({ balance: sql`${users.balance} + 5`, fullName: "New" }).where(eq(users.email, "a@x.io")).returning();
  assert.equal(out[0].balance, 15);
  assert.ok(out[0].createdAt instanceof Date, "drizzle's mapping is kept");
  const [u] = await logs();
  assert.equal(u.operation, "UPDATE");
  assert.equal(u.before_data.balance, 10);
  assert.equal(u.after_data.balance, 15);
  assert.deepEqual(u.diff.changedFields, ["fullName", "balance"]);
  const none = await db.update(users).set({ role: "x" }).where(eq(users.email, "nobody"));
  assert.equal(none.rowCount, 0);
  assert.equal((await logs()).length, 1, "0 affected rows: 0 audit rows (no phantom)");
});

test("update: a WHERE given as a column or another SQL wrapper (not an SQL object) is rendered, not bound", async () => {
  await reset();
  await raw.insert(users).values([{ email: "a@x.io", balance: 10 }, { email: "b@x.io", balance: 20 }]);
  const wrapper = { getSQL: () => eq(users.email, "b@x.io") };
  const out = await db.update(users).set({ role: "w" }).where(wrapper).returning({ email: users.email });
  assert.deepEqual(out, [{ email: "b@x.io" }]);
  const [u] = await logs();
  assert.equal(u.after_data.role, "w");
  assert.deepEqual(u.diff.changedFields, ["role"]);
});

test("delete and composite keys", async () => {
  await reset();
  await raw.insert(memberships).values([{ orgId: 1, userId: 2, role: "admin" }]);
  await db.delete(memberships).where(eq(memberships.orgId, 1));
  const [d] = await logs();
  assert.equal(d.operation, "DELETE");
  assert.equal(d.record_id, '["1","2"]');
  assert.deepEqual(d.before_data, { orgId: 1, userId: 2, role: "admin" });
  assert.equal(d.after_data, null);
});

test("upsert is recorded as what happened", async () => {
  await reset();
  await raw.insert(users).values({ email: "a@x.io" });
  await db.insert(users).values([{ email: "a@x.io", fullName: "dup" }, { email: "n@x.io" }]).onConflictDoUpdate({ target: users.email, set: { fullName: "updated" } });
  const ops = (await logs()).map((l) => [l.operation, l.after_data.email]);
  assert.deepEqual(ops, [["UPDATE", "a@x.io"], ["INSERT", "n@x.io"]]);
});

test("same transaction: rollback removes the audit rows too, and a pool of one never deadlocks", async () => {
  await reset();
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.insert(users).values({ email: "t@x.io" });
      assert.equal((await tx.execute(sql`select count(*)::int as n from audit_logs`)).rows[0].n, 1, "visible inside the transaction");
      throw new Error("rollback");
    }),
    /rollback/,
  );
  assert.equal((await logs()).length, 0);
  assert.equal((await pool.query("select count(*)::int as n from users")).rows[0].n, 0);
  await db.transaction(async (tx) => {
    await tx.insert(users).values({ email: "k@x.io" });
    await tx.update(users).set({ role: "admin" }).where(eq(users.email, "k@x.io"));
  });
  assert.deepEqual((await logs()).map((l) => l.operation), ["INSERT", "UPDATE"]);
});

test("fail-closed: when the audit row cannot be written, the mutation fails; onError keeps it", async () => {
  await reset();
  const broken = betterAudit({ database: { writeLog: async () => { throw new Error("audit store down"); } }, auditTables: ["users"] });
  await assert.rejects(withAuditProxy(raw, broken.captureLog).insert(users).values({ email: "z@x.io" }), /audit store down/);
  assert.equal((await pool.query("select count(*)::int as n from users")).rows[0].n, 0, "mutation rolled back");
  const errors = [];
  await withAuditProxy(raw, broken.captureLog, { onError: (e) => errors.push(e.message) }).insert(users).values({ email: "z@x.io" });
  assert.deepEqual(errors, ["audit store down"]);
  assert.equal((await pool.query("select count(*)::int as n from users")).rows[0].n, 1);
});

test("tables outside auditTables and reads pass through untouched", async () => {
  await reset();
  const other = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["memberships"] });
  const proxied = withAuditProxy(raw, other.captureLog);
  await proxied.insert(users).values({ email: "p@x.io" });
  assert.deepEqual(await proxied.select({ email: users.email }).from(users), [{ email: "p@x.io" }]);
  assert.equal((await logs()).length, 0);
});

test("the in-statement path and the pipeline path record identical entries", async () => {
  await reset();
  await raw.insert(users).values([{ email: "p@x.io", fullName: null, balance: 1 }, { email: "q@x.io", fullName: "Q", balance: 1 }]);
  // A beforeLog hook forces the JavaScript pipeline; without it the row is written in-statement.
  const piped = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["users"], beforeLog: [() => {}] });
  const change = { fullName: "changed", balance: 1 };
  await db.update(users).set(change).where(eq(users.email, "p@x.io"));
  await withAuditProxy(raw, piped.captureLog).update(users).set(change).where(eq(users.email, "q@x.io"));
  await db.update(users).set({ balance: 1 }).where(eq(users.email, "p@x.io"));
  await withAuditProxy(raw, piped.captureLog).update(users).set({ balance: 1 }).where(eq(users.email, "q@x.io"));
  const all = await logs();
  const pick = (id, changed) => all.find((l) => l.record_id === id && (l.diff !== null) === changed);
  const [inline, pipeline, inlineSame, pipelineSame] = [pick("1", true), pick("2", true), pick("1", false), pick("2", false)];
  assert.equal(all.length, 4);
  assert.deepEqual(inline.diff, { changedFields: ["fullName"], changes: [{ field: "fullName", old: null, new: "changed" }] });
  assert.deepEqual(pipeline.diff, { changedFields: ["fullName"], changes: [{ field: "fullName", old: "Q", new: "changed" }] });
  for (const l of [inline, pipeline]) assert.match(l.after_data.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, "same timestamp form on both paths");
  assert.deepEqual([inline.operation, inline.record_id], ["UPDATE", "1"]);
  assert.deepEqual([pipeline.operation, pipeline.record_id], ["UPDATE", "2"]);
  assert.equal(inlineSame.diff, null, "no change: no diff");
  assert.equal(pipelineSame.diff, null);
  const keys = (row) => Object.keys(row.after_data).sort();
  assert.deepEqual(keys(inline), keys(pipeline));
});

test("int8 and numeric values are recorded as exact strings, on both paths", async () => {
  const c = await connectAs("app", "app", dbh.name);
  await c.query(`CREATE TABLE IF NOT EXISTS ledger (id bigserial PRIMARY KEY, amount numeric(20, 2) NOT NULL, units bigint NOT NULL, note text)`);
  await c.query("TRUNCATE audit_logs; TRUNCATE ledger RESTART IDENTITY");
  await c.end();
  const ledger = pgTable("ledger", { id: bigserial("id", { mode: "bigint" }).primaryKey(), amount: numeric("amount").notNull(), units: bigint("units", { mode: "bigint" }).notNull(), note: text("note") });
  const inline = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["ledger"] });
  const piped = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["ledger"], beforeLog: [() => {}] });
  await withAuditProxy(raw, inline.captureLog).insert(ledger).values({ amount: "12345678901234567.10", units: 9007199254740993n });
  await withAuditProxy(raw, piped.captureLog).update(ledger).set({ units: 9007199254740995n }).where(eq(ledger.id, 1n));
  const rows = (await pool.query(`SELECT operation, record_id, before_data, after_data, diff FROM audit_logs ORDER BY operation`)).rows;
  const [ins, upd] = rows;
  assert.deepEqual(ins.after_data, { id: "1", amount: "12345678901234567.10", units: "9007199254740993", note: null });
  assert.equal(ins.record_id, "1");
  assert.equal(upd.before_data.units, "9007199254740993");
  assert.equal(upd.after_data.units, "9007199254740995");
  assert.deepEqual(upd.diff.changedFields, ["units"]);
});

test("buildWhereConditions and buildOrderBy compose into the caller's own Drizzle query", async () => {
  await pool.query(`TRUNCATE audit_logs; INSERT INTO audit_logs (table_name, operation, record_id, actor_id) VALUES ('users', 'INSERT', '1', 'a'), ('users', 'UPDATE', '1', 'b'), ('orders', 'INSERT', '9', 'a')`);
  const where = buildWhereConditions({ resource: { tableName: "users" }, actorIds: ["a"] });
  const rows = await raw.select({ op: auditLogs.operation }).from(auditLogs).where(where).orderBy(...buildOrderBy("asc"));
  assert.deepEqual(rows, [{ op: "INSERT" }]);
  assert.equal(buildWhereConditions({}), undefined);
  assert.throws(() => buildWhereConditions({ severities: ["urgent"] }), /severit/);
});

test("db.execute writes to audited tables are refused, or reported once per statement through onError", async () => {
  await reset();
  await raw.insert(users).values({ email: "e@x.io" });
  await assert.rejects(db.execute(sql`UPDATE users SET role = 'x' WHERE email = ${"e@x.io"}`), (err) => {
    assert.equal(err.code, "AUDIT_UNCAPTURED_WRITE");
    assert.match(err.message, /UPDATE on "users" \(audited\) is not captured/);
    return true;
  });
  await assert.rejects(db.transaction((tx) => tx.execute(sql`WITH gone AS (DELETE FROM users RETURNING *) SELECT count(*) FROM gone`)), /DELETE on "users"/);
  assert.equal((await pool.query("SELECT role FROM users")).rows[0].role, "user", "nothing ran");
  const told = [];
  const lenient = withAuditProxy(raw, audit.captureLog, { onError: (e) => told.push(e.message) });
  for (const role of ["a", "b"]) await lenient.execute(sql`UPDATE users SET role = ${role}`);
  await lenient.execute(sql`TRUNCATE memberships`);
  assert.equal(told.length, 2, "once per statement shape");
  assert.match(told[1], /TRUNCATE on "memberships"/);
  assert.equal((await pool.query("SELECT role FROM users")).rows[0].role, "b");
  // Reads and writes to other tables pass without a word.
  assert.equal((await db.execute(sql`SELECT count(*)::int AS n FROM users`)).rows[0].n, 1);
  await db.execute(sql`CREATE TEMP TABLE scratch (x int); INSERT INTO scratch VALUES (1)`);
  assert.equal((await logs()).length, 0);
});

// Each of these writes `users` in a way the statement's text does not show as an UPDATE of it.
const HIDDEN_WRITES = [
  ["EXPLAIN ANALYZE runs its statement", "EXPLAIN ANALYZE UPDATE users SET role = 'x'"],
  ["EXPLAIN (ANALYZE …) too", "EXPLAIN (FORMAT JSON, ANALYZE) UPDATE users SET role = 'x'"],
  ["PREPARE of a write, then EXECUTE", "PREPARE hidden AS UPDATE users SET role = 'x'; EXECUTE hidden; DEALLOCATE hidden"],
  ["a temporary view over the table", "CREATE TEMP VIEW v AS SELECT * FROM users; UPDATE v SET role = 'x'; DROP VIEW v"],
  ["a renamed table", "ALTER TABLE users RENAME TO u2; UPDATE u2 SET role = 'x'; ALTER TABLE u2 RENAME TO users"],
  ["a pg_temp function", "CREATE FUNCTION pg_temp.bump() RETURNS void LANGUAGE sql AS $$ UPDATE users SET role = 'x' $$; SELECT pg_temp.bump()"],
  ["a DO block", "DO $$ BEGIN UPDATE users SET role = 'x'; END $$"],
  ["a U& escaped identifier", String.raw`UPDATE U&"\0075sers" SET role = 'x'`],
];

test("db.execute: statements that hide a write to an audited table are refused and run nothing; onError hears of each", async () => {
  await reset();
  await raw.insert(users).values({ email: "h@x.io" });
  const role = async () => (await pool.query("SELECT role FROM users")).rows[0].role;
  for (const [what, text] of HIDDEN_WRITES) {
    await assert.rejects(db.execute(sql.raw(text)), (err) => {
      assert.equal(err.code, "AUDIT_UNCAPTURED_WRITE", what);
      return true;
    }, what);
    assert.equal(await role(), "user", `${what}: nothing ran`);
  }
  // Prepared or created outside the proxy, on the same (single) connection.
  await pool.query("PREPARE outside AS UPDATE users SET role = 'x'");
  await pool.query("CREATE FUNCTION pg_temp.touch() RETURNS void LANGUAGE sql AS $$ UPDATE users SET role = 'x' $$");
  for (const text of ["EXECUTE outside", "SELECT pg_temp.touch()", "SELECT count(*) FROM users WHERE pg_temp.touch() IS NULL"]) {
    await assert.rejects(db.execute(sql.raw(text)), { code: "AUDIT_UNCAPTURED_WRITE" }, text);
  }
  await pool.query("DEALLOCATE outside");
  assert.equal(await role(), "user");
  assert.equal((await logs()).length, 0);

  const told = [];
  const lenient = withAuditProxy(raw, audit.captureLog, { onError: (e) => told.push(e) });
  for (const [what, text] of HIDDEN_WRITES) {
    await pool.query("UPDATE users SET role = 'user'");
    await lenient.execute(sql.raw(text));
    assert.equal(await role(), "x", `${what}: ran once reported`);
  }
  assert.deepEqual(told.map((e) => e.code), HIDDEN_WRITES.map(() => "AUDIT_UNCAPTURED_WRITE"));
  assert.match(told[HIDDEN_WRITES.findIndex(([what]) => what === "a DO block")].message, /could write audited tables \(users, memberships\)/);
});

test("db.execute: reads, plain EXPLAIN and session settings still run", async () => {
  await reset();
  await raw.insert(users).values({ email: "r@x.io" });
  for (const text of [
    "SELECT lower(email), count(*) OVER () FROM users WHERE created_at <= now()",
    "EXPLAIN SELECT * FROM users",
    "EXPLAIN UPDATE users SET role = 'x'",
    "SHOW search_path",
    "SET search_path = public",
    "SELECT set_config('app.current_tenant', '', true)",
  ]) {
    await db.execute(sql.raw(text));
  }
  assert.equal((await pool.query("SELECT role FROM users")).rows[0].role, "user");
});

test("update: sql expressions in set() over the row's own columns, several rows, both paths", async () => {
  await reset();
  await raw.insert(users).values([{ email: "a@x.io", fullName: "A", balance: 1 }, { email: "b@x.io", fullName: "B", balance: 2 }, { email: "c@x.io", balance: 3 }]);
  const piped = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["users"], beforeLog: [() => {}] });
  const set = { fullName: sql`full_name || '!'`, balance: sql`balance * 10` };
  const out = await db.update(users).set(set).where(sql`id <= 2`).returning({ id: users.id, fullName: users.fullName, balance: users.balance });
  assert.deepEqual(out.sort((x, y) => x.id - y.id), [{ id: 1, fullName: "A!", balance: 10 }, { id: 2, fullName: "B!", balance: 20 }]);
  await withAuditProxy(raw, piped.captureLog).update(users).set(set).where(eq(users.id, 3));
  const all = await logs();
  const of = (id) => all.find((l) => l.record_id === id);
  assert.equal(all.length, 3);
  for (const [id, name, balance] of [["1", "A", 1], ["2", "B", 2], ["3", null, 3]]) {
    const l = of(id);
    assert.equal(l.operation, "UPDATE");
    assert.deepEqual([l.before_data.fullName, l.before_data.balance], [name, balance], `before of ${id}`);
    assert.deepEqual([l.after_data.fullName, l.after_data.balance], [name === null ? null : `${name}!`, balance * 10], `after of ${id}`);
  }
});

test("withAuditProxy refuses a missing database or capture function with a config error", () => {
  assert.throws(() => withAuditProxy(undefined, audit.captureLog), (err) => err.name === "AuditConfigError" && err.code === "INVALID_CONFIG" && /`db`/.test(err.message));
  assert.throws(() => withAuditProxy(raw, undefined), (err) => err.name === "AuditConfigError" && /`captureLog`/.test(err.message));
});

test("a connection killed mid-transaction leaves neither the mutation nor its audit rows", async () => {
  await reset();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  const own = new pg.Pool({ connectionString: url.toString(), max: 1 });
  // As node-postgres asks of applications: a checked-out client's connection error is heard.
  const dead = [];
  own.on("connect", (client) => client.on("error", (e) => dead.push(e.message)));
  const ownRaw = drizzle(own);
  const ownDb = withAuditProxy(ownRaw, betterAudit({ database: drizzleAuditAdapter(ownRaw), auditTables: ["users"] }).captureLog);
  const killer = await connectAs("app", "app", dbh.name);
  try {
    await assert.rejects(
      ownDb.transaction(async (tx) => {
        await tx.insert(users).values({ email: "k@x.io" });
        await tx.update(users).set({ role: "admin" }).where(eq(users.email, "k@x.io"));
        const { rows } = await tx.execute(sql`select pg_backend_pid() as pid`);
        await killer.query("SELECT pg_terminate_backend($1)", [rows[0].pid]);
        await tx.insert(users).values({ email: "after@x.io" });
      }),
    );
    assert.equal((await pool.query("select count(*)::int as n from users")).rows[0].n, 0);
    assert.equal((await logs()).length, 0);
    assert.ok(dead.length >= 1, "the connection did die");
    // The pool recovers: the next audited write works.
    await ownDb.insert(users).values({ email: "next@x.io" });
    assert.equal((await logs()).length, 1);
  } finally {
    await killer.end();
    await own.end();
  }
});

test("postgres.js under the proxy: both paths, rollback, one connection", async () => {
  await reset();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const rawJs = drizzlePostgresJs(client);
    for (const piped of [false, true]) {
      const a = betterAudit({ database: drizzleAuditAdapter(rawJs), auditTables: ["users"], ...(piped ? { beforeLog: [() => {}] } : {}) });
      const pdb = withAuditProxy(rawJs, a.captureLog);
      const [row] = await pdb.insert(users).values({ email: piped ? "p@x.io" : "i@x.io" }).returning();
      await pdb.update(users).set({ balance: sql`${users.balance} + 5` }).where(eq(users.id, row.id));
      await assert.rejects(
        pdb.transaction(async (tx) => {
          await tx.delete(users).where(eq(users.id, row.id));
          throw new Error("rollback");
        }),
        /rollback/,
      );
    }
    const rows = (await pool.query(`SELECT operation, after_data->>'balance' AS balance FROM audit_logs ORDER BY "timestamp", operation`)).rows;
    assert.deepEqual(rows.map((r) => `${r.operation}:${r.balance}`).sort(), ["INSERT:0", "INSERT:0", "UPDATE:5", "UPDATE:5"], "rolled-back deletes left nothing");
  } finally {
    await client.end();
  }
});
