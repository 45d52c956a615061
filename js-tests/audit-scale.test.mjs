// The audit query builder and export at size, on the Drizzle adapter and PostgreSQL 15:
// 100,000 stored rows with microsecond timestamps (as other writers and DEFAULT now() leave
// them); pages over 10,000 of them cover every row once in both directions, and exports of all
// 100,000 (CSV, NDJSON, JSON array) stream within a small heap. Peak RSS is reported.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";
import { connectAs, fixture, freshDatabase, requireEnv } from "./helpers/db.mjs";

const TOTAL = 100_000;
const ORDERS = 10_000;
let dbh;
let pool;
let audit;

before(async () => {
  dbh = await freshDatabase("auditscale");
  const c = await connectAs("app", "app", dbh.name);
  await c.query(fixture("audit-logs.sql"));
  // Every 10th row is an "orders" entry; rows are 3 µs apart; each carries ~1 KB of images.
  await c.query(
    `INSERT INTO audit_logs ("timestamp", table_name, operation, record_id, actor_id, before_data, after_data, label)
     SELECT timestamp '2026-03-01 00:00:00' + (i * 3 || ' microseconds')::interval,
            CASE WHEN i % 10 = 0 THEN 'orders' ELSE 'users' END, 'UPDATE', i::text, 'actor-' || (i % 7),
            jsonb_build_object('id', i, 'note', repeat('b', 400), 'n', i),
            jsonb_build_object('id', i, 'note', repeat('a', 400), 'n', i + 1, 'tags', jsonb_build_array('x', 'y, "z"')),
            CASE WHEN i % 1000 = 0 THEN 'line' || chr(10) || 'break' END
     FROM generate_series(1, ${TOTAL}) i`,
  );
  await c.query("ANALYZE audit_logs");
  await c.end();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  audit = betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: ["users", "orders"] });
});
after(async () => {
  await pool?.end();
  await dbh?.drop();
});

test("query builder: 10,000 rows 3 µs apart, pages of 500 in both directions, each row exactly once", async () => {
  for (const direction of ["desc", "asc"]) {
    const seen = [];
    let q = audit.query().resource("orders").order(direction).limit(500);
    for (;;) {
      const page = await q.list();
      seen.push(...page.entries.map((e) => Number(e.recordId)));
      if (!page.nextCursor) break;
      q = q.after(page.nextCursor);
    }
    assert.equal(seen.length, ORDERS, direction);
    assert.equal(new Set(seen).size, ORDERS, `${direction}: no repeats`);
    const sorted = [...seen].sort((a, b) => (direction === "asc" ? a - b : b - a));
    assert.deepEqual(seen, sorted, `${direction}: in order`);
  }
  const filtered = await audit.query().resource("orders").actor("actor-0").since(new Date("2026-03-01T00:00:00.150Z")).limit(1000).list();
  // orders rows (i % 10 = 0) by actor-0 (i % 7 = 0) at or after 150,000 µs (i >= 50,000).
  const expected = [...Array(TOTAL).keys()].map((i) => i + 1).filter((i) => i % 70 === 0 && i >= 50000).length;
  assert.equal(filtered.entries.length, expected);
});

const HEAP_MB = 48;

/** One export in a child process whose JavaScript heap is capped at HEAP_MB. */
function exportAll(options) {
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  const child = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, new URL("./helpers/export-child.mjs", import.meta.url).pathname, url.toString(), JSON.stringify(options)], {
    encoding: "utf8",
    env: process.env,
  });
  assert.equal(child.status, 0, `export child failed: ${child.stderr.slice(-2000)}`);
  return JSON.parse(child.stdout);
}

test(`export of 100,000 rows (~100 MB) streams within a ${HEAP_MB} MB heap: CSV, NDJSON and a JSON array`, async (t) => {
  for (const [name, options, rowLines] of [
    ["csv", { format: "csv", batchSize: 1000 }, TOTAL / 1000], // quoted labels hold a line break
    ["ndjson", { format: "json", jsonStyle: "ndjson", batchSize: 1000 }, 0],
    ["array", { format: "json", jsonStyle: "array", batchSize: 1000 }, 0],
  ]) {
    const out = await exportAll(options);
    assert.equal(out.rowCount, TOTAL, name);
    if (name === "csv") {
      assert.equal(out.lines, TOTAL + 1 + rowLines, "header + one line per row (+ quoted line breaks)");
      assert.ok(out.head.startsWith("id,timestamp,tableName,operation,recordId,"));
    } else if (name === "ndjson") {
      assert.equal(out.lines, TOTAL);
      assert.ok(out.head.startsWith('{"id":"') && out.tail.endsWith("}\n"));
    } else {
      assert.ok(out.head.startsWith("[\n  {"));
      assert.ok(out.tail.endsWith("}\n]\n"));
    }
    // Twice the heap: holding the export (or its rows) would have run out of memory.
    assert.ok(out.bytes > 2 * HEAP_MB * 2 ** 20, `${name}: ${out.bytes} bytes exported`);
    t.diagnostic(`${name}: ${TOTAL} rows, ${(out.bytes / 2 ** 20).toFixed(1)} MB in ${out.seconds.toFixed(1)} s, peak RSS ${out.peakMb.toFixed(0)} MB`);
  }
});
