// The compiled audit query against PostgreSQL 15: pages over rows whose timestamps differ only
// in microseconds neither skip nor repeat (the reference's cursors did), and every filter runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import core from "@usebetter-rs/core";
import { connectAs, freshDatabase } from "./helpers/db.mjs";

let db;
let c;
const N = 10000;

before(async () => {
  db = await freshDatabase("auditq");
  c = await connectAs("app", "app", db.name);
  await c.query(`CREATE TABLE audit_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "timestamp" timestamptz NOT NULL DEFAULT now(),
    table_name text NOT NULL, operation text NOT NULL, record_id text NOT NULL, actor_id text,
    before_data jsonb, after_data jsonb, diff jsonb, label text, description text, severity text,
    compliance jsonb, notify boolean, reason text, metadata jsonb, redacted_fields jsonb, tenant_id uuid)`);
  await c.query(`CREATE INDEX audit_logs_timestamp_id_idx ON audit_logs ("timestamp", id)`);
  // 10,000 rows within the same few milliseconds: 1 µs apart.
  await c.query(
    `INSERT INTO audit_logs ("timestamp", table_name, operation, record_id, actor_id, label, severity, compliance)
     SELECT timestamp '2026-01-01 00:00:00' + (i || ' microseconds')::interval, CASE WHEN i % 2 = 0 THEN 'users' ELSE 'orders' END,
            'UPDATE', i::text, 'actor-' || (i % 3), CASE WHEN i % 10 = 0 THEN 'refund 100%' ELSE 'edit' END,
            CASE WHEN i % 4 = 0 THEN 'high' ELSE 'low' END,
            CASE WHEN i % 5 = 0 THEN '["gdpr","soc2"]'::jsonb ELSE '["gdpr"]'::jsonb END
     FROM generate_series(1, ${N}) i`,
  );
});

after(async () => {
  await c?.end();
  await db?.drop();
});

async function all(spec) {
  const seen = [];
  let cursor;
  for (;;) {
    const q = core.compileAuditQuery({ ...spec, cursor }, { now: "2026-01-02T00:00:00Z" });
    const { rows } = await c.query(q.sql, q.params);
    const entries = rows.slice(0, q.limit);
    seen.push(...entries.map((r) => r.record_id));
    if (rows.length <= q.limit) return seen;
    cursor = core.encodeCursor(entries.at(-1).cursor_ts, entries.at(-1).id);
  }
}

test("cursor pages over microsecond timestamps cover every row exactly once, both directions", async () => {
  for (const sortOrder of ["desc", "asc"]) {
    const ids = await all({ filters: {}, limit: 137, sortOrder });
    assert.equal(ids.length, N, sortOrder);
    assert.equal(new Set(ids).size, N, `${sortOrder}: no repeats`);
    const order = ids.map(Number);
    assert.deepEqual(order, [...order].sort((a, b) => (sortOrder === "asc" ? a - b : b - a)));
  }
});

test("no hidden cap: a page of 1,000 returns 1,000", async () => {
  const q = core.compileAuditQuery({ filters: {}, limit: 1000 }, {});
  const { rows } = await c.query(q.sql, q.params);
  assert.equal(rows.length, 1001);
});

test("filters: resource, actors, severity, compliance (all tags), search (literal %), time", async () => {
  const count = async (filters) => {
    const q = core.compileAuditQuery({ filters, limit: 1000 }, { maxLimit: 5000, now: "2026-01-01T00:00:00.001000Z" });
    return (await c.query(q.sql.replace(/LIMIT \$\d+::int$/, ""), q.params.slice(0, -1))).rows.length;
  };
  assert.equal(await count({ resource: { tableName: "users" } }), N / 2);
  assert.equal(await count({ resource: { tableName: "users", recordId: "10" } }), 1);
  assert.equal(await count({ actorIds: ["actor-0", "actor-1"] }), N - Math.floor((N + 1) / 3), "i % 3 is 0 or 1");
  assert.equal(await count({ severities: ["high"] }), N / 4);
  assert.equal(await count({ compliance: ["gdpr", "soc2"] }), N / 5);
  assert.equal(await count({ searchText: "100%" }), N / 10);
  assert.equal(await count({ searchText: "1_0" }), 0, "underscore is literal");
  assert.equal(await count({ searchText: "REFUND" }), N / 10, "case-insensitive");
  assert.equal(await count({ until: { date: "2026-01-01T00:00:00.000100Z" } }), 100);
  assert.equal(await count({ since: { duration: "1h" }, until: { date: "2026-01-01T00:00:00.000050Z" } }), 50);
});

test("bad query input gets a coded error naming the method, and database errors never echo the SQL", async () => {
  const { betterAudit } = await import("@usebetterdev/audit");
  const { drizzleAuditAdapter } = await import("@usebetterdev/audit/drizzle");
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const audit = betterAudit({ database: drizzleAuditAdapter(drizzle(c)), auditTables: ["users"] });
  assert.throws(() => audit.query().search("a\u0000b"), (err) => {
    assert.equal(err.code, "AUDIT_INVALID_QUERY");
    assert.equal(err.field, "search");
    assert.match(err.message, /search\(\)/);
    return true;
  });
  assert.throws(() => audit.query().actor("ok", "\u0000"), { code: "AUDIT_INVALID_QUERY", field: "actor" });
  assert.throws(() => core.compileAuditQuery({ filters: { searchText: "a\u0000b" } }, { maxLimit: 10 }), (err) => err.code === "INVALID_CONFIG" && /searchText/.test(err.message));

  // A database without the audit table: the query and the export fail with the database's
  // own words, not the statement.
  const empty = await freshDatabase("auditqempty");
  const e = await connectAs("app", "app", empty.name);
  try {
    const lost = betterAudit({ database: drizzleAuditAdapter(drizzle(e)), auditTables: ["users"] });
    const refused = (err) => {
      assert.equal(err.code, "AUDIT_QUERY_FAILED");
      assert.equal(err.sqlState, "42P01");
      assert.match(err.message, /audit_logs" does not exist/);
      assert.doesNotMatch(err.message, /select|limit|\$1/i);
      assert.doesNotMatch(String(err.cause?.message), /select|limit/i);
      return true;
    };
    await assert.rejects(lost.query().search("x").list(), refused);
    await assert.rejects(lost.export({ format: "json", output: "string" }), refused);
  } finally {
    await e.end();
    await empty.drop();
  }
});
