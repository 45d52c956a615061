// bench/audit: audited single-row UPDATE throughput (this package vs the reference vs no audit,
// same database, same driver, one run), and the capture pipeline on 5- and 200-field rows
// (where the diff dominates) against the reference's. Run through bench/audit.sh.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { eq } from "drizzle-orm";
import { integer, pgTable, serial, text } from "drizzle-orm/pg-core";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { countWire, perOperation } from "../wire.mjs";

const refRequire = createRequire(new URL("../.ref/package.json", import.meta.url));
const ref = refRequire("ref-audit");
const refDrizzle = refRequire("ref-audit/drizzle");

const ROWS = 1000;
const UPDATES = Number(process.env.BENCH_UPDATES ?? 3000);
const CONCURRENCY = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const users = pgTable("users", { id: serial("id").primaryKey(), email: text("email").notNull(), balance: integer("balance").notNull() });

const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
await admin.query("DROP TABLE IF EXISTS users, audit_logs");
await admin.query(readFileSync(new URL("../../js-tests/fixtures/audit-logs.sql", import.meta.url), "utf8"));
await admin.query(`CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, balance int NOT NULL);
  INSERT INTO users (email, balance) SELECT 'u' || i || '@x.io', 0 FROM generate_series(1, ${ROWS}) i`);
await admin.end();

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: CONCURRENCY + 2 });
const raw = drizzle(pool);
const ours = betterAudit({ database: drizzleAuditAdapter(raw), auditTables: ["users"] });
const theirs = ref.betterAudit({ database: refDrizzle.drizzleAuditAdapter(raw), auditTables: ["users"] });
const variants = {
  ours: withAuditProxy(raw, ours.captureLog),
  ref: refDrizzle.withAuditProxy(raw, theirs.captureLog, { onError: () => {} }),
  unaudited: raw,
};

async function updates(db) {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < UPDATES) {
        const i = next++;
        await db.update(users).set({ balance: i }).where(eq(users.id, 1 + (i % ROWS)));
      }
    }),
  );
  return UPDATES / (Number(process.hrtime.bigint() - start) / 1e9);
}

// What one mutation sends, over mutations one at a time.
const counts = countWire(pg);
const wire = {};
for (const [k, db] of Object.entries(variants)) {
  const before = { ...counts };
  for (let i = 0; i < 100; i++) await db.update(users).set({ balance: i }).where(eq(users.id, 1 + i));
  wire[k] = perOperation(before, counts, 100);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = { ours: [], ref: [], unaudited: [] };
for (let r = 0; r < ROUNDS; r++) for (const [k, db] of Object.entries(variants)) samples[k].push(await updates(db));
const ups = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const logged = (await pool.query("SELECT count(*)::int AS n FROM audit_logs")).rows[0].n;
await pool.end();

// The capture pipeline alone (no database): mostly the diff for wide rows.
function row(fields, salt) {
  const o = { id: 1 };
  for (let i = 0; i < fields; i++) o[`field_${i}`] = i % 7 === 0 ? { nested: [i, salt] } : `value-${i}-${i % 5 === 0 ? salt : 0}`;
  return o;
}
async function pipeline(audit, fields) {
  const before = row(fields, 1);
  const after = row(fields, 2);
  const n = fields > 50 ? 3000 : 20000;
  for (let i = 0; i < 200; i++) await audit.captureLog({ tableName: "t", operation: "UPDATE", recordId: "1", before, after });
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await audit.captureLog({ tableName: "t", operation: "UPDATE", recordId: "1", before, after });
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}
const noop = { writeLog: async () => {} };
const oursNoop = betterAudit({ database: noop, auditTables: ["t"] });
const refNoop = ref.betterAudit({ database: noop, auditTables: ["t"] });
const diff = {};
for (const fields of [5, 200]) diff[fields] = { ours: median([await pipeline(oursNoop, fields), await pipeline(oursNoop, fields), await pipeline(oursNoop, fields)]), ref: median([await pipeline(refNoop, fields), await pipeline(refNoop, fields), await pipeline(refNoop, fields)]) };

const f = (x) => x.toFixed(0);
console.log(`audited single-row UPDATE, ${UPDATES} updates x ${ROUNDS} rounds, ${CONCURRENCY} in flight, ops/s (median): ours ${f(ups.ours)}, reference ${f(ups.ref)}, unaudited ${f(ups.unaudited)}; audit rows written: ${logged} (${UPDATES * ROUNDS * 2 + 200} expected)`);
console.log(`capture pipeline (diff + log), entries/s: 5 fields ours ${f(diff[5].ours)} ref ${f(diff[5].ref)}; 200 fields ours ${f(diff[200].ours)} ref ${f(diff[200].ref)}`);
for (const k of Object.keys(variants)) console.log(`audit-update per mutation ${k}: ${wire[k]}`);
console.log(`audit-update ours/ref=${(ups.ours / ups.ref).toFixed(2)} ours/unaudited=${(ups.ours / ups.unaudited).toFixed(2)}`);
console.log(`audit-diff small ours/ref=${(diff[5].ours / diff[5].ref).toFixed(2)} large ours/ref=${(diff[200].ours / diff[200].ref).toFixed(2)}`);
