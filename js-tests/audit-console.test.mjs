// betterAudit({ console }): the audit product's endpoints, called with console requests against
// real PostgreSQL rows, side by side with the reference's own endpoints (@usebetterdev/audit-core
// 0.8.1 over its Drizzle adapter, same database): the same routes, permissions, statuses and
// bodies, except where README "Differences" says otherwise (asserted here too).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { createRequire } from "node:module";
import { betterAudit, AuditConfigError, AuditSealedPurgeError } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";
import { fixture, freshDatabase, requireEnv } from "./helpers/db.mjs";

// The reference, installed under aliases by scripts/reference.sh js-tests/.ref.
const requireRef = createRequire(new URL("./.ref/package.json", import.meta.url));
const { betterAudit: referenceAudit } = requireRef("ref-audit");
const { drizzleAuditAdapter: referenceAdapter } = requireRef("ref-audit/drizzle");

let dbh;
let pool;
const TABLES = ["users", "orders", "micro"];
const session = { id: "s1", email: "admin@example.com", permissions: "admin" };

/** A console that records what registers with it (the contract: `registerProduct`). */
function recorder() {
  const products = [];
  return { products, registerProduct: (p) => products.push(p) };
}

/** Our and the reference's products over the same database, enriched alike. */
function pair(options = {}) {
  const mine = recorder();
  const theirs = recorder();
  const a = betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: TABLES, console: mine, ...options });
  const b = referenceAudit({ database: referenceAdapter(drizzle(pool)), auditTables: TABLES, console: theirs, ...options });
  for (const audit of [a, b]) {
    audit.enrich("users", "update", { label: "User updated", severity: "medium", redact: ["password"] });
    audit.enrich("users", "*", { compliance: ["gdpr"] });
    audit.enrich("*", "DELETE", { notify: true, include: ["id"] });
    audit.enrich("users", "UPDATE", { label: "second", description: () => "x" });
  }
  assert.equal(mine.products.length, 1);
  assert.equal(theirs.products.length, 1);
  return { ours: mine.products[0], ref: theirs.products[0] };
}

const call = (product, method, path, request = {}) => {
  const endpoint = product.endpoints.find((e) => e.method === method && e.path === path);
  return endpoint.handler({ params: {}, query: {}, body: undefined, session, ...request });
};

/** A cursor as its position: ours keep microseconds (`.123000Z`), the reference's milliseconds. */
function position(cursor) {
  const { t, i } = JSON.parse(Buffer.from(cursor, "base64").toString());
  return `${new Date(t).toISOString()}|${i}`;
}
function normal(res) {
  if (!res.body || typeof res.body !== "object" || Array.isArray(res.body)) return res;
  const body = { ...res.body };
  for (const k of ["nextCursor", "prevCursor"]) if (body[k] !== undefined) body[k] = position(body[k]);
  return { ...res, body };
}

let p;
/** Calls both products alike and asserts equal responses; returns ours. */
async function same(method, path, request = {}, products = p) {
  const ours = await call(products.ours, method, path, request);
  const ref = await call(products.ref, method, path, request);
  assert.deepEqual(normal(ours), normal(ref), `${method} ${path} ${JSON.stringify(request)}`);
  return ours;
}

const count = async (where = "TRUE") => Number((await pool.query(`SELECT count(*) FROM audit_logs WHERE ${where}`)).rows[0].count);

// 60 entries over four days, two per millisecond timestamp (ties ordered by id), every column
// used; distinct counts per actor and table so that top lists have one order.
const SEED = `INSERT INTO audit_logs ("timestamp", table_name, operation, record_id, actor_id, before_data, after_data, diff,
    label, description, severity, compliance, notify, reason, metadata)
  SELECT timestamptz '2026-01-01 00:00:00.123+00' + ((i / 2) * 150) * interval '1 minute',
    CASE WHEN i % 5 < 3 THEN 'users' ELSE 'orders' END, (ARRAY['INSERT','UPDATE','DELETE'])[i % 3 + 1], (i % 20)::text,
    CASE WHEN i % 10 < 5 THEN 'alice' WHEN i % 10 < 8 THEN 'bob' WHEN i % 10 < 9 THEN 'carol' END,
    CASE WHEN i % 3 <> 0 THEN jsonb_build_object('n', i - 1, 'note', 'a,"b"') END,
    CASE WHEN i % 3 <> 2 THEN jsonb_build_object('n', i) END,
    CASE WHEN i % 3 = 1 THEN '{"changedFields":["n"]}'::jsonb END,
    CASE WHEN i % 7 = 0 THEN 'Refund 100%' ELSE 'edit' END, CASE WHEN i % 11 = 0 THEN 'big change' END,
    (ARRAY['high','low','critical',NULL])[i % 4 + 1],
    CASE WHEN i % 6 = 0 THEN '["gdpr","soc2"]'::jsonb WHEN i % 6 = 1 THEN '["gdpr"]'::jsonb END,
    CASE WHEN i % 9 = 0 THEN true END, CASE WHEN i % 13 = 0 THEN 'ticket 7' END,
    CASE WHEN i % 8 = 0 THEN jsonb_build_object('ip', '10.0.0.' || i) END
  FROM generate_series(0, 59) i`;

/** Every seeded id, newest first (timestamp, then id, descending). */
const allIds = async (where = "TRUE") => (await pool.query(`SELECT id FROM audit_logs WHERE ${where} ORDER BY "timestamp" DESC, id DESC`)).rows.map((r) => r.id);

before(async () => {
  dbh = await freshDatabase("auditconsole");
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  await pool.query(fixture("audit-logs.sql"));
  await pool.query(SEED);
  p = pair();
});
after(async () => {
  await pool?.end();
  await dbh?.drop();
});

test("registration: product audit, six endpoints with the reference's methods, paths and permission levels", () => {
  const shape = (product) => ({ id: product.id, name: product.name, endpoints: product.endpoints.map((e) => `${e.method} ${e.path} ${e.requiredPermission}`) });
  assert.deepEqual(shape(p.ours), {
    id: "audit",
    name: "Better Audit",
    endpoints: ["GET /logs read", "GET /logs/:id read", "GET /stats read", "GET /enrichments read", "GET /export read", "DELETE /logs admin"],
  });
  assert.deepEqual(shape(p.ours), shape(p.ref));
  for (const e of p.ours.endpoints) assert.equal(typeof e.handler, "function");
  // Not a console: refused when the instance is built, naming the field.
  assert.throws(() => betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: TABLES, console: {} }), (err) => {
    assert.ok(err instanceof AuditConfigError);
    assert.equal(err.code, "INVALID_CONFIG");
    assert.match(err.message, /`console\.registerProduct` must be a function/);
    return true;
  });
  assert.doesNotThrow(() => betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: TABLES, console: undefined }));
});

test("GET /logs: default page, every filter, limits and ordering equal the reference's", async () => {
  const ids = await allIds();
  const first = await same("GET", "/logs");
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.entries.map((e) => e.id), ids, "all 60, newest first");
  assert.equal(first.body.hasNextPage, false);
  assert.equal("hasPrevPage" in first.body, false, "hasPrevPage only when true");
  const e = first.body.entries.find((x) => x.diff && x.metadata);
  assert.equal(typeof e.timestamp, "string");
  assert.match(e.timestamp, /^2026-01-0\dT\d\d:\d\d:00\.123Z$/);
  assert.equal(e.actorId === undefined || typeof e.actorId === "string", true);
  assert.equal("tenantId" in e, false, "absent keys stay absent");

  const cases = [
    [{ tableName: "users" }, "table_name = 'users'"],
    [{ tableName: "users", recordId: "2" }, "table_name = 'users' AND record_id = '2'"],
    [{ operation: "update" }, "operation = 'UPDATE'"],
    [{ actorId: "alice, bob,alice" }, "actor_id IN ('alice', 'bob')"],
    [{ severity: "high,critical" }, "severity IN ('high', 'critical')"],
    [{ compliance: "soc2" }, "compliance @> '[\"soc2\"]'"],
    [{ search: "100%" }, "label = 'Refund 100%'"],
    [{ search: "BIG" }, "description = 'big change'"],
    [{ since: "2026-01-02T00:00:00.000Z", until: "2026-01-03T00:00:00.000Z" }, "\"timestamp\" BETWEEN '2026-01-02T00:00:00Z' AND '2026-01-03T00:00:00Z'"],
    [{ tableName: "orders", actorId: "alice", operation: "DELETE" }, "table_name = 'orders' AND actor_id = 'alice' AND operation = 'DELETE'"],
    [{ tableName: "" }, "FALSE"],
  ];
  for (const [query, where] of cases) {
    const res = await same("GET", "/logs", { query });
    assert.equal(res.status, 200, JSON.stringify(query));
    const expected = await allIds(where);
    assert.ok(expected.length > 0 || where === "FALSE", `${where} matches rows`);
    assert.deepEqual(res.body.entries.map((x) => x.id), expected, JSON.stringify(query));
  }
  const asc = await same("GET", "/logs", { query: { order: "asc", limit: "5" } });
  assert.deepEqual(asc.body.entries.map((x) => x.id), ids.slice(-5).reverse());
  assert.equal(asc.body.hasNextPage, true);
  // limit: any number, floored, clamped to 1000.
  for (const limit of ["3.9", "1e1", "5000", " 4 "]) await same("GET", "/logs", { query: { limit } });
  assert.equal((await call(p.ours, "GET", "/logs", { query: { limit: "3.9" } })).body.entries.length, 3);
  // direction=before without a cursor: the oldest page, newest first.
  const oldest = await same("GET", "/logs", { query: { direction: "before", limit: "4" } });
  assert.deepEqual(oldest.body.entries.map((x) => x.id), ids.slice(-4));
  assert.equal(oldest.body.hasPrevPage, true);
  assert.equal(oldest.body.hasNextPage, false);
});

test("GET /logs: cursor pages forward, then back with direction=before, neither skip nor repeat and equal the reference's", async () => {
  for (const query of [{ limit: "7" }, { limit: "7", tableName: "users" }, { limit: "4", order: "asc", severity: "low,high" }]) {
    const where = query.tableName ? "table_name = 'users'" : query.severity ? "severity IN ('low', 'high')" : "TRUE";
    const expected = await allIds(where);
    if (query.order === "asc") expected.reverse();
    const pages = [];
    let ours = await same("GET", "/logs", { query });
    let ref = await call(p.ref, "GET", "/logs", { query });
    pages.push(ours.body);
    while (ours.body.hasNextPage) {
      const next = await call(p.ours, "GET", "/logs", { query: { ...query, cursor: ours.body.nextCursor } });
      const refNext = await call(p.ref, "GET", "/logs", { query: { ...query, cursor: ref.body.nextCursor } });
      assert.deepEqual(normal(next), normal(refNext));
      assert.equal(next.body.hasPrevPage, true);
      assert.equal(position(next.body.prevCursor), `${next.body.entries[0].timestamp}|${next.body.entries[0].id}`);
      [ours, ref] = [next, refNext];
      pages.push(ours.body);
    }
    const seen = pages.flatMap((b) => b.entries.map((x) => x.id));
    assert.deepEqual(seen, expected, `${JSON.stringify(query)}: every entry once, in order`);
    if (query.order === "asc") continue; // 'order' cannot be combined with 'direction'
    // Back from the last page: each step is the page before, until there is none.
    const back = [pages.at(-1)];
    let cursors = { ours: ours.body.prevCursor, ref: ref.body.prevCursor };
    while (back[0].hasPrevPage) {
      const prev = await call(p.ours, "GET", "/logs", { query: { ...query, cursor: cursors.ours, direction: "before" } });
      const refPrev = await call(p.ref, "GET", "/logs", { query: { ...query, cursor: cursors.ref, direction: "before" } });
      assert.deepEqual(normal(prev), normal(refPrev));
      assert.equal(prev.body.hasNextPage, true);
      back.unshift(prev.body);
      cursors = { ours: prev.body.prevCursor, ref: refPrev.body.prevCursor };
    }
    assert.deepEqual(back.flatMap((b) => b.entries.map((x) => x.id)), expected);
    assert.deepEqual(back.map((b) => b.entries.length), pages.map((b) => b.entries.length), "the same pages, walked back");
  }
});

test("GET /logs?around=<id>: the anchor with its neighbours, as the reference", async () => {
  const ids = await allIds();
  const anchor = ids[20];
  const res = await same("GET", "/logs", { query: { around: anchor, limit: "5" } });
  assert.deepEqual(res.body.entries.map((x) => x.id), ids.slice(18, 23));
  assert.equal(res.body.hasNextPage, true);
  assert.equal(res.body.hasPrevPage, true);
  const next = await call(p.ours, "GET", "/logs", { query: { cursor: res.body.nextCursor, limit: "2" } });
  assert.deepEqual(next.body.entries.map((x) => x.id), ids.slice(23, 25));
  for (const query of [{ around: anchor, limit: "3" }, { around: ids[0], limit: "4" }, { around: ids[59] }, { around: anchor, tableName: "users", limit: "6" }]) {
    await same("GET", "/logs", { query });
  }
  // limit 1 or 2 leaves a side without entries: the reference then said nothing lay beyond it.
  for (const [limit, ref] of [["1", { hasNextPage: false }], ["2", { hasNextPage: true, hasPrevPage: undefined }]]) {
    const mine = await call(p.ours, "GET", "/logs", { query: { around: anchor, limit } });
    const theirs = await call(p.ref, "GET", "/logs", { query: { around: anchor, limit } });
    assert.deepEqual(mine.body.entries.map((x) => x.id), ids.slice(20, 19 + Number(limit) + 1));
    assert.deepEqual(theirs.body.entries, mine.body.entries);
    assert.equal(mine.body.hasNextPage, true);
    assert.equal(mine.body.hasPrevPage, true);
    assert.equal(position(mine.body.prevCursor), `${mine.body.entries[0].timestamp}|${anchor}`);
    assert.deepEqual({ hasNextPage: theirs.body.hasNextPage, hasPrevPage: theirs.body.hasPrevPage }, { hasPrevPage: undefined, ...ref });
  }
  const edge = await same("GET", "/logs", { query: { around: ids[0], limit: "4" } });
  assert.deepEqual(edge.body.entries.map((x) => x.id), ids.slice(0, 3), "nothing newer than the newest");
  assert.deepEqual((await same("GET", "/logs", { query: { around: "00000000-0000-4000-8000-000000000000" } })).body, { entries: [], hasNextPage: false });
  // A malformed anchor id finds nothing; the reference passed it to the database (500).
  assert.deepEqual(await call(p.ours, "GET", "/logs", { query: { around: "42" } }), { status: 200, body: { entries: [], hasNextPage: false } });
  assert.deepEqual(await call(p.ref, "GET", "/logs", { query: { around: "42" } }), { status: 500, body: { error: "Internal server error" } });
});

test("GET /logs: bad parameters get the reference's 400s", async () => {
  const long = "x".repeat(1001);
  const cases = [
    [{ limit: "0" }, "Invalid 'limit': must be a positive integer (max 1000)"],
    [{ limit: "abc" }, "Invalid 'limit': must be a positive integer (max 1000)"],
    [{ limit: "" }, "Invalid 'limit': must be a positive integer (max 1000)"],
    [{ recordId: "1" }, "'recordId' requires 'tableName'"],
    [{ direction: "up" }, "Invalid 'direction': must be 'after' or 'before'"],
    [{ order: "random" }, "Invalid 'order': must be 'asc' or 'desc'"],
    [{ since: "yesterday" }, "Invalid 'since': must be an ISO-8601 date"],
    [{ until: "2026-13-45" }, "Invalid 'until': must be an ISO-8601 date"],
    [{ since: "2026-01-02T00:00:00Z", until: "2026-01-02T00:00:00Z" }, "'since' must be before 'until'"],
    [{ order: "asc", direction: "after" }, "'order' cannot be combined with 'direction'"],
    [{ around: "x", cursor: "y" }, "'around' cannot be combined with 'cursor', 'direction', or 'order'"],
    [{ around: "x", order: "desc" }, "'around' cannot be combined with 'cursor', 'direction', or 'order'"],
    ...["tableName", "recordId", "actorId", "cursor", "operation", "severity", "compliance", "search", "around", "direction", "order"].map((k) => [
      { tableName: "users", [k]: long },
      "Query parameter exceeds maximum length",
    ]),
  ];
  for (const [query, error] of cases) {
    assert.deepEqual(await same("GET", "/logs", { query }), { status: 400, body: { error } }, JSON.stringify(query).slice(0, 80));
  }
});

test("GET /logs: values the reference answered with a 500 are 400s naming the parameter here", async () => {
  const cases = [
    [{ severity: "low,urgent" }, 'Invalid severity "urgent". Must be one of: low, medium, high, critical'],
    [{ operation: "UPSERT" }, 'Invalid operation "UPSERT". Must be one of: INSERT, UPDATE, DELETE'],
    [{ cursor: "not-a-cursor" }, "Invalid cursor: failed to decode"],
    [{ cursor: Buffer.from('{"t":"2026-01-01T00:00:00Z","i":"nope"}').toString("base64") }, "Invalid cursor: id must be a valid UUID"],
    [{ search: "s".repeat(501) }, "invalid `searchText`: expected at most 500 characters, got 501"],
    [{ tableName: "us\u0000ers" }, "invalid `resource.tableName`: expected text without NUL characters"],
  ];
  for (const [query, error] of cases) {
    assert.deepEqual(await call(p.ours, "GET", "/logs", { query }), { status: 400, body: { error } });
    const ref = await call(p.ref, "GET", "/logs", { query });
    assert.equal(ref.status, query.search ? 200 : 500, `reference: ${JSON.stringify(query).slice(0, 60)}`);
  }
  // A database error stays the reference's opaque 500.
  const broken = pair({ database: drizzleAuditAdapter(drizzle(new pg.Pool({ connectionString: "postgres://nobody:x@127.0.0.1:1/none" }))) });
  assert.deepEqual(await call(broken.ours, "GET", "/logs"), { status: 500, body: { error: "Internal server error" } });
});

test("GET /logs/:id: found, unknown, blank; a malformed id is a 404 (the reference: 500)", async () => {
  const [id] = await allIds("diff IS NOT NULL AND metadata IS NOT NULL");
  const found = await same("GET", "/logs/:id", { params: { id } });
  assert.equal(found.status, 200);
  const row = (await pool.query("SELECT * FROM audit_logs WHERE id = $1", [id])).rows[0];
  assert.equal(found.body.id, id);
  assert.equal(found.body.timestamp, row.timestamp.toISOString());
  assert.deepEqual(found.body.diff, { changedFields: ["n"] });
  assert.deepEqual(found.body.metadata, row.metadata);
  await same("GET", "/logs/:id", { params: { id: ` ${id.toUpperCase()} ` } });
  assert.deepEqual(await same("GET", "/logs/:id", { params: { id: "00000000-0000-4000-8000-000000000000" } }), { status: 404, body: { error: "Audit log not found" } });
  assert.deepEqual(await same("GET", "/logs/:id", { params: { id: "  " } }), { status: 400, body: { error: "Missing log id" } });
  assert.deepEqual(await same("GET", "/logs/:id", {}), { status: 400, body: { error: "Missing log id" } });
  assert.deepEqual(await call(p.ours, "GET", "/logs/:id", { params: { id: "42" } }), { status: 404, body: { error: "Audit log not found" } });
  assert.deepEqual(await call(p.ref, "GET", "/logs/:id", { params: { id: "42" } }), { status: 500, body: { error: "Internal server error" } });
});

test("GET /stats and GET /enrichments equal the reference's", async () => {
  const all = await same("GET", "/stats");
  assert.equal(all.status, 200);
  assert.equal(all.body.totalLogs, 60);
  assert.equal(all.body.tablesAudited, 2);
  assert.deepEqual(all.body.topActors, [{ actorId: "alice", count: 30 }, { actorId: "bob", count: 18 }, { actorId: "carol", count: 6 }]);
  assert.deepEqual(all.body.topTables, [{ tableName: "users", count: 36 }, { tableName: "orders", count: 24 }]);
  assert.deepEqual(all.body.operationBreakdown, { INSERT: 20, UPDATE: 20, DELETE: 20 });
  assert.deepEqual(all.body.severityBreakdown, { high: 15, low: 15, critical: 15 });
  assert.deepEqual(all.body.eventsPerDay.map((d) => d.date), ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]);
  assert.equal(all.body.eventsPerDay.reduce((n, d) => n + d.count, 0), 60);
  const day = await same("GET", "/stats", { query: { since: "2026-01-02T00:00:00Z", until: "2026-01-03T00:00:00Z" } });
  assert.equal(day.body.totalLogs, await count(`"timestamp" >= '2026-01-02' AND "timestamp" < '2026-01-03'`));
  for (const [query, error] of [
    [{ since: "nope" }, "Invalid 'since': must be an ISO-8601 date"],
    [{ until: "nope" }, "Invalid 'until': must be an ISO-8601 date"],
    [{ since: "2026-01-03", until: "2026-01-02" }, "'since' must be before 'until'"],
    [{ since: "2".repeat(1001) }, "Query parameter exceeds maximum length"],
  ]) {
    assert.deepEqual(await same("GET", "/stats", { query }), { status: 400, body: { error } });
  }

  const enrichments = await same("GET", "/enrichments");
  assert.deepEqual(enrichments.body, [
    { table: "users", operation: "UPDATE", label: "User updated", severity: "medium", redact: ["password"] },
    { table: "users", operation: "UPDATE", label: "second" },
    { table: "users", operation: "*", compliance: ["gdpr"] },
    { table: "*", operation: "DELETE", notify: true, include: ["id"] },
  ]);
});

test("GET /export: CSV and JSON files, filters and the limit, byte for byte the reference's", async () => {
  const csv = await same("GET", "/export");
  assert.equal(csv.status, 200);
  const stamp = new Date().toISOString().slice(0, 10);
  assert.deepEqual(csv.headers, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="audit-export-${stamp}.csv"`, "cache-control": "no-cache" });
  assert.equal(csv.body.split("\n")[0], "id,timestamp,tableName,operation,recordId,actorId,beforeData,afterData,diff,label,description,severity,compliance,notify,reason,metadata,redactedFields");
  assert.match(csv.body, /"\{""n"":\d+,""note"":""a,\\""b\\""""\}"/, "JSON with quotes and commas, quoted");
  const json = await same("GET", "/export", { query: { format: "json" } });
  assert.equal(json.headers["content-type"], "application/json; charset=utf-8");
  assert.equal(JSON.parse(json.body).length, 60);
  assert.equal(json.body, `${JSON.stringify(JSON.parse(json.body), null, 2)}\n`);
  for (const query of [
    { format: "json", tableName: "users", order: "asc", limit: "5" },
    { format: "csv", severity: "high", actorId: "alice,carol" },
    { format: "json", since: "2026-01-03T00:00:00Z", cursor: "ignored" },
    { format: "json", tableName: "nothing" },
  ]) {
    await same("GET", "/export", { query });
  }
  const five = await call(p.ours, "GET", "/export", { query: { format: "json", tableName: "users", order: "asc", limit: "5" } });
  assert.deepEqual(JSON.parse(five.body).map((e) => e.id), (await allIds("table_name = 'users'")).reverse().slice(0, 5));
  assert.equal((await call(p.ours, "GET", "/export", { query: { format: "json", tableName: "nothing" } })).body, "[]\n");
  // maxQueryLimit caps an export without a limit, as in the reference.
  const capped = pair({ maxQueryLimit: 25 });
  const rows = await same("GET", "/export", { query: { format: "json" } }, capped);
  assert.equal(JSON.parse(rows.body).length, 25);
  assert.equal((await same("GET", "/logs", { query: { limit: "100" } }, capped)).body.entries.length, 25);
  for (const [query, error] of [
    [{ format: "xml" }, "Invalid format. Must be 'csv' or 'json'"],
    [{ search: "s".repeat(1001) }, "Query parameter exceeds maximum length"],
    [{ limit: "-3" }, "Invalid 'limit': must be a positive integer (max 1000)"],
    [{ since: "2026-02-01", until: "2026-01-01" }, "'since' must be before 'until'"],
  ]) {
    assert.deepEqual(await same("GET", "/export", { query }), { status: 400, body: { error } });
  }
});

test("an adapter without query, lookup, stats or purge: the reference's 500s", async () => {
  const bare = pair({ database: { writeLog: async () => {} } });
  for (const [method, path, request] of [
    ["GET", "/logs", {}],
    ["GET", "/logs/:id", { params: { id: "00000000-0000-4000-8000-000000000000" } }],
    ["GET", "/stats", {}],
    ["GET", "/export", {}],
    ["DELETE", "/logs", { body: { before: "2026-01-01T00:00:00Z" } }],
  ]) {
    assert.deepEqual(await same(method, path, request, bare), { status: 500, body: { error: "Internal server error" } });
  }
  assert.equal((await same("GET", "/enrichments", {}, bare)).status, 200);
});

test("DELETE /logs: body checks as the reference, then purges by date and table", async () => {
  for (const [body, error] of [
    [undefined, "Request body is required"],
    ["before=2026", "Request body is required"],
    [[], "Request body is required"],
    [{}, "Missing required field: before"],
    [{ before: 1767225600000 }, "Missing required field: before"],
    [{ before: "soon" }, "Invalid date for 'before' field"],
    [{ before: "2026-01-02T00:00:00Z", tableName: "t".repeat(1001) }, "tableName exceeds maximum length"],
  ]) {
    assert.deepEqual(await same("DELETE", "/logs", { body }), { status: 400, body: { error } });
  }
  // A tableName of another type made the reference purge every table; refused here.
  for (const tableName of [42, ["users"], "  "]) {
    assert.deepEqual(await call(p.ours, "DELETE", "/logs", { body: { before: "2027-01-01T00:00:00Z", tableName } }), {
      status: 400,
      body: { error: "Invalid 'tableName': must be a non-empty string" },
    });
  }
  assert.equal(await count(), 60, "nothing purged by refused requests");

  // The same purges through each product, counted against the rows.
  const purges = [
    [p.ref, { before: "2026-01-02T00:00:00Z", tableName: "orders" }, `"timestamp" < '2026-01-02' AND table_name = 'orders'`],
    [p.ours, { before: "2026-01-02T00:00:00Z", tableName: "users" }, `"timestamp" < '2026-01-02' AND table_name = 'users'`],
    [p.ref, { before: "2026-01-03T00:00:00Z", tableName: "" }, `"timestamp" < '2026-01-03'`],
    [p.ours, { before: "2026-01-04T00:00:00Z", tableName: null }, `"timestamp" < '2026-01-04'`],
    [p.ours, { before: "2026-01-04T00:00:00Z" }, "FALSE"],
  ];
  for (const [product, body, where] of purges) {
    const expected = await count(where);
    assert.deepEqual(await call(product, "DELETE", "/logs", { body }), { status: 200, body: { deletedCount: expected } }, JSON.stringify(body));
    assert.equal(await count(where), 0);
  }
  assert.equal(await count(), await count(`"timestamp" >= '2026-01-04'`));
});

test("pages over entries whose timestamps differ in microseconds neither skip nor repeat; no hidden 250 cap", async () => {
  await pool.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id)
    SELECT timestamptz '2026-02-01 00:00:00.500+00' + i * interval '1 microsecond', 'micro', 'INSERT', i::text FROM generate_series(1, 300) i`);
  const expected = await allIds("table_name = 'micro'");
  const forward = [];
  let res = await call(p.ours, "GET", "/logs", { query: { tableName: "micro", limit: "7" } });
  forward.push(res.body);
  while (res.body.hasNextPage) {
    res = await call(p.ours, "GET", "/logs", { query: { tableName: "micro", limit: "7", cursor: res.body.nextCursor } });
    forward.push(res.body);
  }
  assert.deepEqual(forward.flatMap((b) => b.entries.map((e) => e.id)), expected);
  const back = [forward.at(-1)];
  while (back[0].hasPrevPage) {
    const prev = await call(p.ours, "GET", "/logs", { query: { tableName: "micro", limit: "7", cursor: back[0].prevCursor, direction: "before" } });
    back.unshift(prev.body);
  }
  assert.deepEqual(back.flatMap((b) => b.entries.map((e) => e.id)), expected);
  const around = await call(p.ours, "GET", "/logs", { query: { around: expected[150], tableName: "micro", limit: "5" } });
  assert.deepEqual(around.body.entries.map((e) => e.id), expected.slice(148, 153));
  // The reference's pages stop at 250 entries whatever the limit.
  assert.equal((await call(p.ours, "GET", "/logs", { query: { tableName: "micro", limit: "300" } })).body.entries.length, 300);
  assert.equal((await call(p.ref, "GET", "/logs", { query: { tableName: "micro", limit: "300" } })).body.entries.length, 250);
  assert.equal(JSON.parse((await call(p.ours, "GET", "/export", { query: { tableName: "micro", format: "json" } })).body).length, 300);
});

test("DELETE /logs never deletes sealed entries: 409 naming `better-audit purge`; unsealed ones still go", async () => {
  await pool.query("TRUNCATE audit_logs");
  await pool.query(`INSERT INTO audit_logs ("timestamp", table_name, operation, record_id)
    SELECT timestamptz '2025-06-01 00:00:00+00' + i * interval '1 day', CASE WHEN i % 2 = 0 THEN 'users' ELSE 'orders' END, 'INSERT', i::text
    FROM generate_series(1, 6) i`);
  const mine = recorder();
  const sealedAdapter = drizzleAuditAdapter(drizzle(pool), { seal: { unkeyed: true } });
  const audit = betterAudit({ database: sealedAdapter, auditTables: TABLES, console: mine });
  for (const id of ["a", "b", "c"]) await audit.captureLog({ tableName: "users", operation: "INSERT", recordId: id, after: { id } });
  assert.equal(await count("seq IS NOT NULL"), 3);
  const soon = new Date(Date.now() + 60_000).toISOString();
  for (const body of [{ before: soon }, { before: soon, tableName: "users" }]) {
    const res = await call(mine.products[0], "DELETE", "/logs", { body });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, "AUDIT_SEALED_PURGE");
    assert.match(res.body.error, /^purgeLogs: 3 of the entries older than .* are sealed into hash chains/);
    assert.match(res.body.error, /better-audit purge --yes --since <window>/);
  }
  assert.equal(await count(), 9, "nothing deleted");
  await assert.rejects(sealedAdapter.purgeLogs({ before: new Date(soon) }), (err) => {
    assert.ok(err instanceof AuditSealedPurgeError);
    assert.equal(err.code, "AUDIT_SEALED_PURGE");
    assert.equal(err.sealedCount, 3);
    return true;
  });
  // Orders hold no sealed entry; older than the sealed ones, neither does any table.
  assert.deepEqual(await call(mine.products[0], "DELETE", "/logs", { body: { before: soon, tableName: "orders" } }), { status: 200, body: { deletedCount: 3 } });
  assert.deepEqual(await call(mine.products[0], "DELETE", "/logs", { body: { before: "2026-01-01T00:00:00Z" } }), { status: 200, body: { deletedCount: 3 } });
  assert.deepEqual((await pool.query("SELECT seq FROM audit_logs ORDER BY seq")).rows.map((r) => Number(r.seq)), [1, 2, 3]);
});

test("a reference-shaped audit_logs (no seal columns) is read and purged", async () => {
  await pool.query(`CREATE SCHEMA refshape; CREATE TABLE refshape.audit_logs (LIKE public.audit_logs INCLUDING DEFAULTS);
    ALTER TABLE refshape.audit_logs DROP COLUMN tenant_id, DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash`);
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  const plain = new pg.Pool({ connectionString: url.toString(), max: 1, options: "-c search_path=refshape" });
  try {
    await plain.query(`INSERT INTO audit_logs (table_name, operation, record_id) VALUES ('users', 'INSERT', '1'), ('orders', 'INSERT', '2')`);
    const mine = recorder();
    betterAudit({ database: drizzleAuditAdapter(drizzle(plain)), auditTables: TABLES, console: mine });
    const list = await call(mine.products[0], "GET", "/logs");
    assert.equal(list.body.entries.length, 2);
    assert.equal((await call(mine.products[0], "GET", "/logs/:id", { params: { id: list.body.entries[0].id } })).status, 200);
    const soon = new Date(Date.now() + 60_000).toISOString();
    assert.deepEqual(await call(mine.products[0], "DELETE", "/logs", { body: { before: soon, tableName: "users" } }), { status: 200, body: { deletedCount: 1 } });
    assert.deepEqual(await call(mine.products[0], "DELETE", "/logs", { body: { before: soon } }), { status: 200, body: { deletedCount: 1 } });
  } finally {
    await plain.end();
  }
});
