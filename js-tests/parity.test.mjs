// Native and wasm must give identical results (and identical errors) for the same inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadBackend } from "./helpers/backends.mjs";
import { SECRET, signJwt, readKey, nowSeconds } from "./helpers/keys.mjs";

const native = loadBackend("native");
const wasm = loadBackend("wasm");

function outcome(fn) {
  try {
    return { ok: fn() };
  } catch (err) {
    return { code: err.code, message: err.message };
  }
}

function same(label, call) {
  const a = outcome(() => call(native));
  const b = outcome(() => call(wasm));
  assert.deepEqual(b, a, label);
  return a;
}

const configs = [
  { header: "x-tenant-id" },
  { path: "/t/:tenantId/*", subdomain: true },
  { path: { pattern: "/org/:org/*", segmentIndex: 1 }, subdomain: { segmentIndex: 1 } },
  { header: "x-tenant-id", jwt: { claim: "tenant_id", secret: SECRET, leeway: 5 } },
  { jwt: { claim: "tenant_id", jwks: JSON.parse(readKey("jwks.json")), audience: ["api"] } },
  { jwt: "tenant_id" },
  { jwt: { claim: "tenant_id", unverified: true } },
  { header: "" },
  { header: 1 },
  { path: "x" },
  { subdomain: "yes" },
  { jwt: { claim: "t", secret: "s", unverified: true } },
];

const now = nowSeconds();
const tokens = [
  signJwt({ tenant_id: "acme", exp: now + 100 }),
  signJwt({ tenant_id: "ACME-2", aud: "api" }, "RS256", { kid: "rsa-1" }),
  signJwt({ tenant_id: "acme", aud: "api" }, "ES256"),
  signJwt({ tenant_id: "", exp: now + 100 }),
  signJwt({ tenant_id: "acme", exp: now - 100 }),
  signJwt({ tenant_id: "acme" }, "none"),
  "not.a.jwt",
];

const requests = [
  { headers: { "X-Tenant-Id": " Acme " } },
  { headers: { "x-tenant-id": ["a1", "b2"] } },
  { headers: { "x-tenant-id": "bad!" }, host: "acme.example.com" },
  { headers: {}, path: "/t/ac%6De/x", host: "www.example.com" },
  { headers: {}, url: "https://eu.acme.example.com/org/globex/y" },
  { headers: {}, host: "[::1]:3000", path: "/t/%ff" },
  ...tokens.map((t) => ({ headers: { authorization: `Bearer ${t}` } })),
  { headers: {}, claims: { tenant_id: "pre-verified" } },
  { headers: 5 },
];

test("resolution: every config × request gives the same result", () => {
  let compared = 0;
  for (const config of configs) {
    for (const request of requests) {
      same(JSON.stringify([config, request]), (b) => b.resolveTenant(request, config));
      compared++;
    }
  }
  assert.equal(compared, configs.length * requests.length);
});

test("JWT verification: same claims, same error codes and messages", () => {
  const options = [
    { secret: SECRET },
    { publicKey: readKey("rsa.pub") },
    { publicKey: readKey("ec.pub"), algorithms: ["ES256"] },
    { jwks: readKey("jwks.json"), issuer: "x" },
    { secret: "short" },
    {},
    { publicKey: "junk" },
  ];
  const codes = new Set();
  for (const o of options) {
    for (const t of tokens) {
      const r = same(JSON.stringify([o, t]), (b) => b.verifyJwt(t, o));
      codes.add(r.code ?? "ok");
    }
  }
  // The corpus really exercises success and several distinct failures.
  assert.ok(codes.has("ok") && codes.size >= 6, [...codes].join(","));
});

test("migration SQL: byte-identical output and errors", () => {
  const inputs = [
    { tenantTables: ["projects", "tasks"] },
    { tenantTables: ["billing.invoices", 'a"b', "ünïcode"], schema: "app" },
    { tenantTables: ["projects"], hardened: true },
    { tenantTables: [""] },
    { tenantTables: ["x".repeat(64)] },
    { tenantTables: "projects" },
    { tenantTables: ["tenants"] },
    { tenantTables: [], extra: 1 },
  ];
  for (const input of inputs) {
    same(JSON.stringify(input), (b) => b.generateMigrationSql(input));
    same(`add ${JSON.stringify(input)}`, (b) => b.generateAddTableSql("tasks", { ...input, tenantTables: undefined }));
  }
});

test("audit primitives: identical diffs, canonical JSON, durations, cursors and compiled queries", () => {
  const pairs = [
    { before: { id: 1, name: "a", prefs: { x: [1, { y: 2 }] } }, after: { id: 1, name: "b", prefs: { x: [1, { y: 2 }] }, added: null } },
    { before: {}, after: { big: 12345678901234, f: 1.5, s: "é\u0000" } },
  ];
  const d = same("auditDiff", (b) => b.auditDiff(pairs));
  assert.deepEqual(d.ok[0].changedFields, ["name", "added"]);
  same("canonicalJson", (b) => b.canonicalJson({ b: [1, { d: 2, c: 1 }], a: "x" }));
  for (const input of ["4h", "30d", "2w", "1m", "1y", "0d", "5s", "1.5d"]) {
    same(`parseDuration ${input}`, (b) => b.parseDuration(input, "2026-03-31T12:00:00.123456Z"));
  }
  const cursor = same("encodeCursor", (b) => b.encodeCursor("2026-01-01T00:00:00.123456Z", "0F8FAD5B-D9CB-469F-A165-70867728950E"));
  same("decodeCursor", (b) => b.decodeCursor(cursor.ok));
  same("decodeCursor bad", (b) => b.decodeCursor("bm9wZQ=="));
  const spec = {
    filters: { resource: { tableName: "users" }, actorIds: ["a", "b"], compliance: ["gdpr"], since: { duration: "7d" }, searchText: "50%" },
    limit: 20,
    cursor: cursor.ok,
    sortOrder: "desc",
  };
  const compiled = same("compileAuditQuery", (b) => b.compileAuditQuery(spec, { now: "2026-03-31T12:00:00Z" }));
  // resource, actors, compliance, since, search, cursor (timestamp, id), limit
  assert.equal(compiled.ok.params.length, 8);
  same("compileAuditQuery bad limit", (b) => b.compileAuditQuery({ filters: {}, limit: 5000 }, {}));
});
