// @usebetterdev/audit: the captureLog pipeline, enrichment and redaction, hooks, the query
// builder and export, on the Drizzle storage adapter and a real PostgreSQL.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { runWithTenant } from "@usebetterdev/tenant";
import { betterAudit, AuditConfigError, parseDuration, runWithAuditContext, mergeAuditContext, getAuditContext } from "@usebetterdev/audit";
import { drizzleAuditAdapter, encodeCursor, decodeCursor } from "@usebetterdev/audit/drizzle";
import { createRequire } from "node:module";
import { connectAs, fixture, freshDatabase, requireEnv } from "./helpers/db.mjs";

let dbh;
let pool;
let adapter;
before(async () => {
  dbh = await freshDatabase("audit");
  const c = await connectAs("app", "app", dbh.name);
  await c.query(fixture("audit-logs.sql"));
  await c.end();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  adapter = drizzleAuditAdapter(drizzle(pool));
});
after(async () => {
  await pool?.end();
  await dbh?.drop();
});

const rows = async (where = "TRUE") => (await pool.query(`SELECT * FROM audit_logs WHERE ${where} ORDER BY "timestamp", id`)).rows;
const clear = () => pool.query("TRUNCATE audit_logs");

// The reference's runtime exports per subpath (spec §1); /express and the ESM /next were
// unloadable there, and every one loads here in both module systems.
const EXPORTS = {
  "": ["AuditQueryBuilder", "betterAudit", "createExportResponse", "fromBearerToken", "fromCookie", "fromHeader", "getAuditContext", "mergeAuditContext", "parseDuration", "runWithAuditContext"],
  "/drizzle": ["auditLogs", "buildOrderBy", "buildWhereConditions", "decodeCursor", "drizzleAuditAdapter", "encodeCursor", "withAuditProxy"],
  "/hono": ["betterAuditHono", "createHonoMiddleware"],
  "/prisma": ["prismaAuditAdapter", "withAuditExtension"],
  "/next": ["AUDIT_ACTOR_HEADER", "betterAuditNext", "createAuditMiddleware", "fromBearerToken", "fromCookie", "fromHeader", "getAuditContext", "runWithAuditContext", "withAudit", "withAuditRoute"],
  "/express": ["betterAuditExpress", "createExpressMiddleware"],
};

test("every subpath exports the reference's names, from import and from require", async () => {
  const require = createRequire(import.meta.url);
  for (const [sub, names] of Object.entries(EXPORTS)) {
    const esm = await import(`@usebetterdev/audit${sub}`);
    const cjs = require(`@usebetterdev/audit${sub}`);
    for (const name of names) {
      assert.notEqual(esm[name], undefined, `import "@usebetterdev/audit${sub}" lacks ${name}`);
      assert.equal(esm[name], cjs[name], `${sub} ${name}: one implementation for both module systems`);
    }
  }
});

test("configuration errors use the reference's messages", () => {
  const mk = (extra) => () => betterAudit({ database: adapter, auditTables: ["users"], ...extra });
  assert.throws(mk({ retention: { days: 0 } }), { message: "retention: 'days' must be a positive integer, got 0" });
  assert.throws(mk({ retention: { days: 30, tables: [] } }), { message: "retention: 'tables' must be a non-empty array of non-empty strings" });
  assert.throws(mk({ retention: { days: 30, tables: ["orders"] } }), { message: "retention: 'tables' contains table(s) not in auditTables: orders. Registered tables: users" });
  assert.throws(() => betterAudit({ auditTables: [] }), AuditConfigError);
  const audit = betterAudit({ database: adapter, auditTables: ["users"], retention: { days: 90 } });
  assert.deepEqual(Object.keys(audit), ["captureLog", "query", "export", "exportResponse", "withContext", "enrich", "onBeforeLog", "onAfterLog", "retentionPolicy"]);
  assert.deepEqual(audit.retentionPolicy(), { days: 90 });
  assert.throws(() => audit.enrich("orders", "*", {}), { message: 'Cannot register enrichment for table "orders": it is not in auditTables. Registered tables: users' });
  assert.throws(() => audit.enrich("users", "insert", { redact: ["a"], include: ["b"] }), { message: 'Enrichment for "users:INSERT" cannot specify both "redact" and "include". Use one or the other.' });
});

test("silently accepted mistakes are AuditConfigError naming the field, with code INVALID_CONFIG", () => {
  const mk = (extra) => () => betterAudit({ database: adapter, auditTables: ["users"], ...extra });
  const cases = [
    [mk({ maxQueryLimit: -5 }), /`maxQueryLimit` must be a positive integer, got -5/],
    [mk({ maxQueryLimit: 2.5 }), /`maxQueryLimit` must be a positive integer, got 2\.5/],
    [mk({ maxQueryLimt: 10 }), /unknown config key `maxQueryLimt`/],
    [() => drizzleAuditAdapter(undefined), /drizzleAuditAdapter\(db\) needs a Drizzle PostgreSQL database .*got undefined/],
    [() => drizzleAuditAdapter({}), /drizzleAuditAdapter\(db\) needs a Drizzle PostgreSQL database .*got object/],
  ];
  for (const [fn, message] of cases) {
    assert.throws(fn, (err) => {
      assert.ok(err instanceof AuditConfigError, `${err.name}: ${err.message}`);
      assert.equal(err.code, "INVALID_CONFIG");
      assert.match(err.message, message);
      return true;
    });
  }
  assert.equal(typeof betterAudit({ database: adapter, auditTables: ["users"], maxQueryLimit: 5 }).query, "function");
});

test("captureLog: per-operation images, structural diff with old and new values, context, tenant", async () => {
  await clear();
  const audit = betterAudit({ database: adapter, auditTables: ["users"] });
  await audit.captureLog({ tableName: "other", operation: "INSERT", recordId: "" }); // not audited: ignored
  await assert.rejects(audit.captureLog({ tableName: "users", operation: "INSERT", recordId: "" }), { message: "captureLog requires a non-empty recordId", code: "AUDIT_INVALID_DATA" });
  await assert.rejects(audit.captureLog({ tableName: "users", operation: "UPSERT", recordId: "1" }), AuditConfigError);
  const tenant = "0f8fad5b-d9cb-469f-a165-70867728950e";
  await runWithTenant(tenant, () =>
    runWithAuditContext({ actorId: "ctx-actor", metadata: { ip: "1.2.3.4" } }, async () => {
      await audit.captureLog({ tableName: "users", operation: "INSERT", recordId: "1", before: { x: 1 }, after: { id: 1, name: "a" } });
      await audit.captureLog({
        tableName: "users", operation: "UPDATE", recordId: "1", actorId: "input-actor",
        before: { id: 1, name: "a", prefs: { b: 1, a: 2 } }, after: { id: 1, name: "b", prefs: { a: 2, b: 1 } },
      });
      await audit.captureLog({ tableName: "users", operation: "UPDATE", recordId: "1", before: { id: 1 }, after: { id: 1 } });
      await audit.captureLog({ tableName: "users", operation: "DELETE", recordId: "1", before: { id: 1 }, after: { id: 9 } });
    }),
  );
  // JS timestamps have millisecond precision, so entries of the same millisecond have no order.
  const all = await rows();
  const ins = all.find((r) => r.operation === "INSERT");
  const del = all.find((r) => r.operation === "DELETE");
  const upd = all.find((r) => r.operation === "UPDATE" && r.diff !== null);
  const same = all.find((r) => r.operation === "UPDATE" && r.diff === null);
  assert.equal(all.length, 4);
  assert.equal(ins.before_data, null);
  assert.deepEqual(ins.after_data, { id: 1, name: "a" });
  assert.equal(ins.actor_id, "ctx-actor");
  assert.deepEqual(ins.metadata, { ip: "1.2.3.4" });
  assert.equal(ins.tenant_id, tenant);
  assert.equal(upd.actor_id, "input-actor");
  assert.deepEqual(upd.diff, { changedFields: ["name"], changes: [{ field: "name", old: "a", new: "b" }] });
  assert.equal(same.diff, null, "no diff when nothing changed");
  assert.equal(del.after_data, null);
  assert.deepEqual(del.before_data, { id: 1 });
});

test("enrichment: redaction of nested and metadata paths (diff included), include, merges", async () => {
  await clear();
  const audit = betterAudit({ database: adapter, auditTables: ["users", "cards"] });
  audit.enrich("*", "*", { compliance: ["all"], label: "generic" });
  audit.enrich("users", "UPDATE", {
    label: "user updated",
    severity: "high",
    compliance: ["soc2"],
    redact: ["password", "profile.ssn", "metadata.ip"],
    description: ({ diff }) => `changed ${diff.changedFields.join(", ")}`,
  });
  audit.enrich("cards", "*", { include: ["id", "last4"] });
  await audit.captureLog({
    tableName: "users", operation: "UPDATE", recordId: "7", compliance: ["hipaa"], metadata: { ip: "x", ua: "y" },
    before: { id: 7, password: "pw-old-secret", profile: { ssn: "ssn-111", city: "A" } },
    after: { id: 7, password: "pw-new-secret", profile: { ssn: "ssn-222", city: "B" } },
  });
  await audit.captureLog({ tableName: "cards", operation: "INSERT", recordId: "c1", after: { id: "c1", last4: "4242", pan: "4111111111114242" } });
  const all = await rows();
  const u = all.find((r) => r.table_name === "users");
  const c = all.find((r) => r.table_name === "cards");
  assert.deepEqual(u.after_data, { id: 7, profile: { city: "B" } });
  const text = JSON.stringify(u);
  for (const secret of ["pw-old-secret", "pw-new-secret", "ssn-111", "ssn-222", '"x"']) assert.ok(!text.includes(secret), `${secret} leaked`);
  assert.deepEqual(u.diff.changedFields, ["profile"]);
  assert.deepEqual(u.redacted_fields, ["metadata.ip", "password", "profile.ssn"]);
  assert.deepEqual(u.metadata, { ua: "y" });
  assert.equal(u.label, "user updated");
  assert.equal(u.severity, "high");
  assert.deepEqual(u.compliance, ["hipaa", "all", "soc2"]);
  assert.equal(u.description, "changed profile");
  assert.deepEqual(c.after_data, { id: "c1", last4: "4242" });
  assert.deepEqual(c.redacted_fields, ["pan"]);
  assert.equal(c.label, "generic");
});

test("hooks: beforeLog mutates and can veto, afterLog sees the written entry, dispose works", async () => {
  await clear();
  const seen = [];
  const audit = betterAudit({ database: adapter, auditTables: ["users"], afterLog: [(log) => seen.push(log.recordId)] });
  const off = audit.onBeforeLog((log) => {
    log.reason = "hooked";
    if (log.recordId === "veto") throw new Error("vetoed");
  });
  await audit.captureLog({ tableName: "users", operation: "INSERT", recordId: "1", after: {} });
  await assert.rejects(audit.captureLog({ tableName: "users", operation: "INSERT", recordId: "veto", after: {} }), /vetoed/);
  off();
  await audit.captureLog({ tableName: "users", operation: "INSERT", recordId: "2", after: {} });
  const byId = (await rows()).map((r) => [r.record_id, r.reason]).sort((a, b) => a[0].localeCompare(b[0]));
  assert.deepEqual(byId, [["1", "hooked"], ["2", null]]);
  assert.deepEqual(seen, ["1", "2"]);
});

test("sync writes fail loudly; async writes report through onError", async () => {
  const broken = { writeLog: async () => { throw new Error("db down"); } };
  const sync = betterAudit({ database: broken, auditTables: ["t"] });
  await assert.rejects(sync.captureLog({ tableName: "t", operation: "INSERT", recordId: "1" }), /db down/);
  const errors = [];
  const asyncAudit = betterAudit({ database: broken, auditTables: ["t"], asyncWrite: true, onError: (e) => errors.push(e.message) });
  await asyncAudit.captureLog({ tableName: "t", operation: "INSERT", recordId: "1" });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(errors, ["db down"]);
});

test("context helpers replace and merge", async () => {
  await runWithAuditContext({ actorId: "a", label: "l" }, () =>
    mergeAuditContext({ actorId: "b" }, () => assert.deepEqual(getAuditContext(), { actorId: "b", label: "l" })),
  );
  assert.equal(getAuditContext(), undefined);
});

test("query builder: the reference's spec, validation, and pages with no hidden cap", async () => {
  await clear();
  const audit = betterAudit({ database: adapter, auditTables: ["users"] });
  const spec = audit.query().resource("users", "1").actor("a", "a", "b").since("24h").operation("UPDATE").limit(5).order("asc").toSpec();
  assert.deepEqual(spec, { filters: { resource: { tableName: "users", recordId: "1" }, actorIds: ["a", "b"], since: { duration: "24h" }, operations: ["UPDATE"] }, limit: 5, sortOrder: "asc" });
  assert.throws(() => audit.query().limit(0), { message: "limit must be greater than 0, got 0", code: "AUDIT_INVALID_QUERY" });
  assert.throws(() => audit.query().limit(1001), { message: "limit 1001 exceeds maximum allowed limit of 1000", code: "AUDIT_INVALID_QUERY" });
  assert.throws(() => audit.query().search("x".repeat(501)), { message: "searchText must be at most 500 characters, got 501" });
  assert.throws(() => audit.query().since("5s"), /Invalid duration "5s"/);
  for (let i = 0; i < 600; i++) {
    await audit.captureLog({ tableName: "users", operation: "INSERT", recordId: String(i), actorId: `u${i % 3}`, after: { i } });
  }
  const first = await audit.query().limit(500).list();
  assert.equal(first.entries.length, 500, "no hidden 250 cap");
  assert.ok(first.entries[0].timestamp instanceof Date);
  assert.ok(!("label" in first.entries[0]), "absent optional keys, not null");
  const second = await audit.query().limit(500).after(first.nextCursor).list();
  assert.equal(second.entries.length, 100);
  assert.equal(second.nextCursor, undefined);
  const ids = new Set([...first.entries, ...second.entries].map((e) => e.id));
  assert.equal(ids.size, 600);
  assert.equal((await audit.query().actor("u0", "u1").limit(1000).list()).entries.length, 400);
  assert.equal((await adapter.getLogById(first.entries[0].id)).recordId, first.entries[0].recordId);
  const stats = await adapter.getStats();
  assert.equal(stats.totalLogs, 600);
  assert.deepEqual(stats.operationBreakdown, { INSERT: 600 });
  assert.deepEqual(await adapter.purgeLogs({ before: new Date(Date.now() + 1000), tableName: "users" }), { deletedCount: 600 });
});

test("export: CSV with quoting, NDJSON, array, stream and Response; a query does not cap it", async () => {
  await clear();
  const audit = betterAudit({ database: adapter, auditTables: ["users"], maxQueryLimit: 10 });
  for (let i = 0; i < 25; i++) {
    await audit.captureLog({ tableName: "users", operation: "INSERT", recordId: String(i), label: i === 0 ? 'has "quote", comma' : undefined, after: { i } });
  }
  const csv = await audit.export({ format: "csv", output: "string", query: audit.query().order("asc"), batchSize: 7 });
  assert.equal(csv.rowCount, 25);
  const lines = csv.data.trimEnd().split("\n");
  assert.equal(lines[0], "id,timestamp,tableName,operation,recordId,actorId,beforeData,afterData,diff,label,description,severity,compliance,notify,reason,metadata,redactedFields");
  // Entries captured within the same millisecond have no defined order, so find the row.
  assert.equal(lines.filter((l) => l.includes(',"has ""quote"", comma",')).length, 1);
  const nd = await audit.export({ format: "json", output: "string" });
  assert.equal(nd.data.trimEnd().split("\n").length, 25);
  const arr = await audit.export({ format: "json", jsonStyle: "array", output: "string" });
  assert.equal(JSON.parse(arr.data).length, 25);
  const chunks = [];
  const stream = new WritableStream({ write: (c) => void chunks.push(c) });
  assert.deepEqual(await audit.export({ format: "json", output: stream }), { rowCount: 25 });
  assert.equal(chunks.join("").trimEnd().split("\n").length, 25);
  await assert.rejects(audit.export({ format: "csv", output: "string", csvDelimiter: ";;" }), { message: "csvDelimiter must be exactly one character", code: "INVALID_ARGUMENT" });
  const res = audit.exportResponse({ format: "csv", filename: 'my"file' });
  assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
  assert.equal(res.headers.get("content-disposition"), 'attachment; filename="myfile.csv"');
  assert.equal((await res.text()).trimEnd().split("\n").length, 26);
});

test("parseDuration and cursors", () => {
  const ref = new Date("2026-03-31T12:00:00Z");
  assert.equal(parseDuration("1m", ref).toISOString(), "2026-02-28T12:00:00.000Z");
  assert.equal(parseDuration("2w", ref).toISOString(), "2026-03-17T12:00:00.000Z");
  assert.throws(() => parseDuration("0d"), { message: 'Invalid duration "0d". Value must be greater than zero.' });
  const c = encodeCursor("2026-01-01T00:00:00.123456Z", "0f8fad5b-d9cb-469f-a165-70867728950e");
  assert.equal(decodeCursor(c).id, "0f8fad5b-d9cb-469f-a165-70867728950e");
  assert.throws(() => decodeCursor("bm9wZQ=="), { message: "Invalid cursor: failed to decode" });
});

test("bigint values are stored as strings; values JSON cannot hold are named, not a bare TypeError", async () => {
  await clear();
  const audit = betterAudit({ database: adapter, auditTables: ["users"] });
  await audit.captureLog({ tableName: "users", operation: "UPDATE", recordId: "1", before: { n: 9007199254740993n, s: "a" }, after: { n: 9007199254740995n, s: "a" } });
  const [row] = await rows();
  assert.deepEqual(row.before_data, { n: "9007199254740993", s: "a" });
  assert.deepEqual(row.diff, { changedFields: ["n"], changes: [{ field: "n", old: "9007199254740993", new: "9007199254740995" }] });
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  await assert.rejects(audit.captureLog({ tableName: "users", operation: "UPDATE", recordId: "1", before: { a: 1 }, after: cyclic }), (err) => {
    assert.equal(err.name, "AuditDataError");
    assert.equal(err.code, "AUDIT_INVALID_DATA");
    assert.match(err.message, /`after` cannot be stored as JSON/);
    return true;
  });
});
