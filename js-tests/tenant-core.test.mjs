// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// @usebetterdev/tenant without a framework: config errors, runAs/runAsSystem, scopes, api, cache.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { sql } from "drizzle-orm";
import {
  betterTenant,
  getContext,
  requireDatabase,
  runWithTenant,
  TenantConfigError,
  TenantScopeClosedError,
  TenantScopeError,
  resolveTenant,
  runAs as lowRunAs,
  toResolvableRequest,
} from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { names, projects, tenantDatabase, watched } from "./helpers/app.mjs";

let env;
before(async () => {
  env = await tenantDatabase("tcore", { poolSize: 1 });
});
after(() => env?.close());

const make = (extra = {}) => betterTenant({ database: drizzleDatabase(env.db), tenantResolver: { header: "x-tenant-id" }, ...extra });

test("config mistakes throw TenantConfigError naming the field, never a raw TypeError", () => {
  const cases = [
    [() => betterTenant({ tenantResolver: { header: "x" } }), /`database` is required/],
    [() => betterTenant({ database: drizzleDatabase(env.db) }), /`tenantResolver` is required/],
    [() => make({ tenantResolver: { heder: "x" } }), /`tenantResolver\.heder`: unknown field `heder`/],
    [() => make({ tenantResolver: {} }), /`tenantResolver`: expected at least one strategy/],
    [() => make({ tenantResolver: { subdomain: false } }), /`tenantResolver`: expected at least one strategy/],
    [() => make({ tenantResolver: { header: "x-tenant\nid" } }), /`tenantResolver\.header`: expected a header name/],
    [() => make({ tenantResolver: { path: "/t/*" } }), /`tenantResolver\.path`: expected .*`:param`/],
    [() => make({ tenantResolver: { path: { pattern: "/t/*", segmentIndex: 1 } } }), /`tenantResolver\.path`: expected .*`:param`/],
    [() => make({ tenantResolver: { jwt: { claim: "t", secret: "12345" } } }), /`secret` has 5 bytes; HMAC secrets need at least 32/],
    [() => make({ loadTenant: "no" }), /`loadTenant` must be true or false, got "no"/],
    [() => make({ loadTennant: false }), /unknown config key `loadTennant`/],
    [() => make({ tenantResolver: { path: "t/:tenantId" } }), /tenantResolver\.path/],
    [() => make({ tenantResolver: { jwt: { claim: "t", secret: 5 } } }), /tenantResolver\.jwt/],
    [() => make({ hardened: { key: "short" } }), /`hardened\.key` must be a string of at least 32 characters/],
    [() => createHonoMiddleware(make(), { missingTenantStatus: 500 }), /`missingTenantStatus` must be 401 or 404, got 500/],
    [() => drizzleDatabase({}), /needs a Drizzle PostgreSQL database/],
  ];
  for (const [fn, message] of cases) {
    assert.throws(fn, (err) => {
      assert.ok(err instanceof TenantConfigError, `${err.name}: ${err.message}`);
      assert.equal(err.code, "INVALID_CONFIG");
      assert.match(err.message, message);
      return true;
    });
  }
});

test("bad input to the tenant API is an Error with a stable code naming the problem", async () => {
  const tenant = make();
  const cases = [
    [() => runWithTenant("  ", async () => 1), "INVALID_ARGUMENT", /tenantId must be a non-empty string/],
    [() => tenant.api.createTenant({ slug: "x" }), "INVALID_ARGUMENT", /createTenant requires name/],
    [() => tenant.api.createTenant({ name: "x" }), "INVALID_ARGUMENT", /createTenant requires slug/],
    [() => tenant.api.createTenant({ name: "x", slug: "-x-" }), "TENANT_INVALID_SLUG", /invalid slug "-x-"/],
    [() => tenant.api.updateTenant("", { name: "x" }), "INVALID_ARGUMENT", /updateTenant requires tenantId/],
    [() => tenant.api.updateTenant("0f8fad5b-d9cb-469f-a165-70867728950e", { name: "x" }), "TENANT_NOT_FOUND", /tenant not found/],
    [() => tenant.api.getTenant(" "), "INVALID_ARGUMENT", /getTenant requires tenantId/],
    [() => tenant.api.deleteTenant(""), "INVALID_ARGUMENT", /deleteTenant requires tenantId/],
    [() => tenant.runAs("Not A Tenant!", async () => 1), "TENANT_INVALID_ID", /runAs: invalid tenant id/],
    [() => tenant.runAs("no-such-tenant", async () => 1), "TENANT_NOT_FOUND", /tenant not found: "no-such-tenant"/],
    [async () => requireDatabase(), "TENANT_NO_SCOPE", /outside a tenant scope/],
  ];
  for (const [fn, code, message] of cases) {
    await assert.rejects(fn, (err) => {
      assert.ok(err instanceof Error, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    });
  }
});

test("resolutions kept between requests answer each request for its own header, path and host", async () => {
  const tenant = make({ tenantResolver: { header: "x-tenant-id", path: "/t/:tenantId/*", subdomain: true } });
  const byHeader = (v) => tenant.resolveTenant({ headers: { "x-tenant-id": v } });
  for (let i = 0; i < 3; i++) {
    assert.equal(await byHeader("acme"), env.ids.acme);
    assert.equal(await byHeader("globex"), env.ids.globex);
    assert.equal(await byHeader(env.ids.globex.toUpperCase()), env.ids.globex);
    assert.equal(await byHeader("nope"), undefined);
    assert.equal(await tenant.resolveTenant({ headers: {}, path: "/t/globex/x" }), env.ids.globex);
    assert.equal(await tenant.resolveTenant({ headers: {}, path: "/t/acme/x" }), env.ids.acme);
    assert.equal(await tenant.resolveTenant({ headers: {}, host: "globex.example.com" }), env.ids.globex);
    assert.equal(await tenant.resolveTenant({ headers: {} }), undefined);
  }
  // A long value (not kept) resolves the same way.
  assert.equal(await byHeader(`${"x".repeat(600)}`), undefined);
});

test("a tenant whose id reads like the system scope's never gets its context (low-level runAs)", async () => {
  const { adapter } = drizzleDatabase(env.db);
  const tenant = make();
  // The system scope sees every tenant's rows; tenants named "null" or "undefined" see none of them.
  assert.ok((await tenant.runAsSystem(async (db) => db.select().from(projects))).length >= 3);
  // Not a UUID, so the policies' cast fails the query: no rows either way.
  const rowsAs = (id) => lowRunAs(id, adapter, async (db) => names(await db.select().from(projects))).catch((err) => (assert.match(String(err.cause ?? err), /uuid/), []));
  for (const id of ["null", "undefined"]) {
    assert.deepEqual(await rowsAs(id), [], id);
    await tenant.runAsSystem(async () => undefined);
    assert.deepEqual(await rowsAs(id), [], `${id} after a system scope`);
  }
});

test("handleRequest and resolveTenant answer with promises: what a resolver or the options throw rejects them, never throws", async () => {
  const next = async () => "ran";
  const throwing = make({ tenantResolver: { custom: () => { throw new Error("custom failed"); } } });
  const results = [
    throwing.handleRequest({ headers: {} }, next),
    throwing.resolveTenant({ headers: {} }),
    make().handleRequest({ headers: {}, getToken() { throw new Error("getToken failed"); } }, next),
    make().handleRequest({ headers: { "x-tenant-id": "acme" } }, next, null),
  ];
  for (const r of results) assert.ok(r instanceof Promise);
  await assert.rejects(results[0], /custom failed/);
  await assert.rejects(results[1], /custom failed/);
  await assert.rejects(results[2], /getToken failed/);
  await assert.rejects(results[3], TypeError);
  assert.equal(await make().handleRequest({ headers: { "x-tenant-id": env.ids.acme } }, next), "ran");
});

test("a custom resolver alone is a strategy", async () => {
  const tenant = make({ tenantResolver: { custom: () => "acme" } });
  assert.equal(await tenant.resolveTenant({ headers: {} }), env.ids.acme);
});

test("resolveToId gets the raw identifier before any validation, UUIDs included; its answer must be a tenant id", async () => {
  const seen = [];
  const upper = env.ids.globex.toUpperCase();
  const domains = { "acme.example": env.ids.acme, [upper]: env.ids.globex };
  const tenant = make({
    tenantResolver: { header: "x-tenant-id", resolveToId: (v) => (seen.push(v), domains[v]) },
  });
  const req = (v) => ({ headers: { "x-tenant-id": v } });
  assert.equal(await tenant.resolveTenant(req("  acme.example ")), env.ids.acme, "a custom domain reaches resolveToId");
  assert.equal(await tenant.resolveTenant(req(upper)), env.ids.globex, "a UUID goes through resolveToId as sent");
  assert.equal(await tenant.resolveTenant(req(env.ids.acme)), undefined, "resolveToId's undefined means missing, even for a UUID");
  assert.deepEqual(seen, ["acme.example", upper, env.ids.acme]);
  const rows = await tenant.handleRequest(req("acme.example"), async () => names(await tenant.getDatabase().select().from(projects)));
  assert.deepEqual(rows, ["acme-1", "acme-2"]);
  // A custom strategy's value is raw too.
  const byHost = make({ tenantResolver: { custom: (r) => r.host, resolveToId: (v) => domains[v] } });
  assert.equal(await byHost.resolveTenant({ headers: {}, host: "acme.example" }), env.ids.acme);
  // What resolveToId returns is checked as a tenant id (a UUID, lower-cased).
  const shouting = make({ tenantResolver: { header: "x-tenant-id", resolveToId: () => env.ids.acme.toUpperCase() } });
  assert.equal(await shouting.resolveTenant(req("anything")), env.ids.acme);
  const broken = make({ tenantResolver: { header: "x-tenant-id", resolveToId: () => "acme" } });
  await assert.rejects(broken.resolveTenant(req("acme.example")), (err) => {
    assert.ok(err instanceof TenantConfigError);
    assert.equal(err.code, "INVALID_CONFIG");
    assert.match(err.message, /`tenantResolver\.resolveToId` must return a tenant id \(a UUID\) or undefined; for "acme\.example" it returned "acme"/);
    return true;
  });
  // Without resolveToId the identifier is still validated: a domain is neither UUID nor slug.
  assert.equal(await make().resolveTenant(req("acme.example")), undefined);
});

test("jwt.verifyToken gets the Bearer token (one word after the scheme) and its claims resolve the tenant", async () => {
  const seen = [];
  const config = { jwt: { claim: "tenant_id", verifyToken: async (t) => (seen.push(t), t === "good.token.x" ? { tenant_id: "acme" } : null) } };
  const headers = (authorization) => ({ headers: { authorization } });
  assert.equal(await resolveTenant(headers("Bearer good.token.x"), config), "acme");
  assert.equal(await resolveTenant(headers("  bearer   good.token.x "), config), "acme");
  assert.equal(await resolveTenant(headers("Bearer other.token.y"), config), undefined);
  assert.equal(await resolveTenant(headers("Basic good.token.x"), config), undefined);
  assert.equal(await resolveTenant(headers("Bearer good.token.x trailing"), config), undefined);
  assert.deepEqual(seen, ["good.token.x", "good.token.x", "other.token.y"]);
});

test("toResolvableRequest: the reference's shape, host without port", () => {
  const fetchReq = new Request("http://acme.app.com:8080/t/acme/x?y=1", { method: "POST", headers: { "x-tenant-id": "a" } });
  const fromFetch = toResolvableRequest(fetchReq);
  assert.deepEqual(Object.keys(fromFetch), ["headers", "url", "method", "path", "host"]);
  assert.equal(fromFetch.headers, fetchReq.headers);
  assert.deepEqual({ ...fromFetch, headers: null }, { headers: null, url: "http://acme.app.com:8080/t/acme/x?y=1", method: "POST", path: "/t/acme/x", host: "acme.app.com" });
  assert.equal(toResolvableRequest(new Request("https://ACME.Example.com/")).host, "acme.example.com");
  // Node-like requests (Express, Fastify): outputs of the reference for the same inputs.
  const cases = [
    [
      { headers: { Host: "acme.app.com:8080", "X-Tenant-ID": "acme", "X-Num": 5, "x-many": ["a", 2], "x-undef": undefined }, url: "/t/acme/x?y=1", originalUrl: "/m/t/acme/x?y=1", path: "/t/acme/x", method: "GET" },
      { headers: { host: "acme.app.com:8080", "x-tenant-id": "acme", "x-num": "5", "x-many": ["a", "2"], "x-undef": undefined }, path: "/t/acme/x", host: "acme.app.com", method: "GET" },
    ],
    [{ headers: { host: "h.example.com:3000" }, url: "/a?b" }, { headers: { host: "h.example.com:3000" }, path: "/a", host: "h.example.com" }],
    [{ headers: {}, originalUrl: "/o?q", url: "/u" }, { headers: {}, path: "/o" }],
    [{ headers: { host: ["x.example.com:1", "y"] }, hostname: "acme.example.com", host: "ignored:1" }, { headers: { host: ["x.example.com:1", "y"] }, host: "acme.example.com" }],
    [{ url: "/p" }, { headers: {}, path: "/p" }],
    [{ headers: { host: ":8080" }, path: "", method: "GET" }, { headers: { host: ":8080" }, method: "GET" }],
    [{}, { headers: {} }],
    // The reference gives "[" here (its B9); the bracketed IPv6 literal is kept whole.
    [{ headers: { host: "[::1]:3000" }, url: "?only=query" }, { headers: { host: "[::1]:3000" }, host: "[::1]" }],
  ];
  for (const [input, expected] of cases) {
    const out = toResolvableRequest(input);
    assert.deepEqual(out, expected, JSON.stringify(input));
    assert.deepEqual(Object.keys(out), Object.keys(expected), "key order");
  }
});

test("runAs loads the tenant in its own transaction: works on a pool of one", async () => {
  const tenant = make();
  const out = await tenant.runAs(env.ids.acme, async (db) => {
    const ctx = getContext();
    assert.equal(ctx.tenant.slug, "acme");
    assert.equal(tenant.getDatabase(), db);
    return names(await db.select().from(projects));
  });
  assert.deepEqual(out, ["acme-1", "acme-2"]);
  // N concurrent runAs on a pool of N (here 1) do not deadlock.
  const many = await Promise.all(Array.from({ length: 5 }, () => tenant.runAs(env.ids.globex, async (db) => names(await db.select().from(projects)))));
  assert.deepEqual(many, Array(5).fill(["globex-1"]));
});

test("runAs accepts upper-case UUIDs and slugs, rejects unknown tenants", async () => {
  const tenant = make();
  assert.deepEqual(await tenant.runAs(env.ids.acme.toUpperCase(), async (db) => names(await db.select().from(projects))), ["acme-1", "acme-2"]);
  assert.deepEqual(await tenant.runAs("globex", async (db) => names(await db.select().from(projects))), ["globex-1"]);
  await assert.rejects(tenant.runAs("00000000-0000-4000-8000-000000000000", async () => 1), /tenant not found/);
  await assert.rejects(tenant.runAs("nope", async () => 1), /tenant not found/);
  await assert.rejects(tenant.runAs("not a slug!", async () => 1), /TENANT_INVALID_ID|invalid tenant id/);
});

test("node-postgres: BEGIN and the tenant setting travel as one message", async () => {
  await make().runAs(env.ids.acme, (db) => db.select().from(projects)); // the connection is known
  const { texts, binds } = await watched(env.pool, () => make().runAs(env.ids.acme, async (db) => db.select().from(projects)));
  // Every setting the policies read is set, so nothing a pooled connection carries over counts.
  // A scope that only reads (runAs loads the tenant, then the projects) runs each statement in
  // a read-only implicit transaction of its own (tenant-reads.test.mjs), each set-up carrying
  // every setting: one prepared text, the values bound.
  const settings = /^SELECT set_config\('app\.current_tenant', \$1, true\), set_config\('app\.tenant_sig', \$2, true\), set_config\('app\.bypass_rls', \$3, true\), set_config\('app\.bypass_sig', \$4, true\), set_config\('transaction_read_only', \$5, true\)$/;
  assert.equal(texts.length, 4, texts.join(" | "));
  for (const at of [0, 2]) {
    assert.match(texts[at], settings);
    assert.deepEqual(binds[at], [env.ids.acme, "", "", "", "on"]);
    assert.match(texts[at + 1], /^select /);
  }
});

test("node-postgres 8.17+: the set-up and the scope's first statement leave before the first answer (one round trip)", async () => {
  await make().runAs(env.ids.acme, (db) => db.select().from(projects)); // the connection is known
  const { result, events } = await watched(env.pool, () => make().runAs(env.ids.acme, async (db) => db.select().from(projects)));
  assert.deepEqual(names(result), ["acme-1", "acme-2"]);
  // One system call carries the settings and the first query (the tenant's lookup), which as a
  // read alone needs no BEGIN or COMMIT: one Sync, one answer. The set-up and the lookup ran on
  // this connection before, so both are prepared there: bound, not parsed again.
  assert.deepEqual(events.slice(0, events.indexOf("ready")), ["B", "E", "B", "D", "E", "S", "write"], events.join(" "));
});

test("scopes need no timer to send their set-up (test runners' fake timers replace setImmediate)", async () => {
  const real = globalThis.setImmediate;
  globalThis.setImmediate = () => ({});
  try {
    const scope = make().runAs(env.ids.acme, async (db) => names(await db.select().from(projects)));
    const hung = new Promise((_, reject) => setTimeout(() => reject(new Error("the scope hung")), 3000).unref());
    assert.deepEqual(await Promise.race([scope, hung]), ["acme-1", "acme-2"]);
  } finally {
    globalThis.setImmediate = real;
  }
});

test("a throw inside runAs rolls back", async () => {
  const tenant = make();
  await assert.rejects(
    tenant.runAs(env.ids.acme, async (db) => {
      await db.insert(projects).values({ name: "doomed" });
      throw new Error("boom");
    }),
    /boom/,
  );
  const after = await tenant.runAs(env.ids.acme, async (db) => names(await db.select().from(projects)));
  assert.ok(!after.includes("doomed"));
});

test("a scoped handle used after its scope throws TenantScopeClosedError", async () => {
  const tenant = make();
  let leaked;
  let builder;
  await tenant.runAs(env.ids.acme, async (db) => {
    leaked = db;
    builder = db.select().from(projects);
  });
  assert.throws(() => leaked.select(), TenantScopeClosedError);
  assert.throws(() => leaked.execute(sql`SELECT 1`), TenantScopeClosedError);
  await assert.rejects(async () => builder.then((x) => x), TenantScopeClosedError);
  assert.equal(tenant.getDatabase(), undefined);
  assert.throws(() => tenant.requireDatabase(), TenantScopeError);
});

test("runAsSystem sees every tenant; context is exactly { isSystem: true }", async () => {
  const tenant = make();
  const all = await tenant.runAsSystem(async (db) => {
    assert.deepEqual(getContext(), { isSystem: true });
    return names(await db.select().from(projects));
  });
  assert.ok(all.includes("acme-1") && all.includes("globex-1"));
});

test("api: CRUD with the reference's validation messages, slugs validated", async () => {
  const { api } = make();
  const created = await api.createTenant({ name: "  Initech ", slug: " initech " });
  assert.equal(created.name, "Initech");
  assert.equal(created.slug, "initech");
  await assert.rejects(api.createTenant({ name: " ", slug: "x" }), { message: "better-tenant: createTenant requires name" });
  await assert.rejects(api.createTenant({ name: "x" }), { message: "better-tenant: createTenant requires slug" });
  await assert.rejects(api.createTenant({ name: "x", slug: "Bad Slug" }), /invalid slug "Bad Slug"/);
  assert.equal((await api.updateTenant(created.id, { name: " Initech Corp " })).name, " Initech Corp ");
  await assert.rejects(api.updateTenant("00000000-0000-4000-8000-000000000000", { name: "x" }), { message: "better-tenant: tenant not found" });
  await assert.rejects(api.updateTenant("", {}), { message: "better-tenant: updateTenant requires tenantId" });
  assert.equal((await api.getTenant(created.id)).slug, "initech");
  assert.equal(await api.countTenants(), 3);
  const page1 = await api.listTenants({ limit: 2 });
  const page2 = await api.listTenants({ limit: 2, offset: 2 });
  assert.equal(new Set([...page1, ...page2].map((t) => t.id)).size, 3, "stable pages: no repeats");
  await api.deleteTenant(created.id);
  assert.equal(await api.getTenant(created.id), null);
});

test("api: updateTenant stores name and slug as given, like the reference; createTenant trims", async () => {
  const { api } = make();
  const created = await api.createTenant({ name: " Umbrella ", slug: " umbrella " });
  try {
    assert.deepEqual([created.name, created.slug], ["Umbrella", "umbrella"]);
    const renamed = await api.updateTenant(created.id, { name: " Umbrella Corp " });
    assert.equal(renamed.name, " Umbrella Corp ");
    assert.equal((await api.getTenant(created.id)).name, " Umbrella Corp ");
    assert.equal((await api.updateTenant(created.id, { slug: "umbrella-corp" })).slug, "umbrella-corp");
    // A slug is checked as given: with spaces it is not one (it could never be resolved).
    await assert.rejects(api.updateTenant(created.id, { slug: " umbrella " }), /invalid slug " umbrella "/);
    assert.equal((await api.getTenant(created.id)).slug, "umbrella-corp");
  } finally {
    await api.deleteTenant(created.id);
  }
});

test("slug lookups are cached and tenant.api writes invalidate the cache", async () => {
  const tenant = make();
  const req = (slug) => ({ headers: { "x-tenant-id": slug } });
  assert.equal(await tenant.resolveTenant(req("globex")), env.ids.globex);
  await tenant.api.updateTenant(env.ids.globex, { slug: "globex-corp" });
  try {
    assert.equal(await tenant.resolveTenant(req("globex")), undefined);
    assert.equal(await tenant.resolveTenant(req("globex-corp")), env.ids.globex);
  } finally {
    await tenant.api.updateTenant(env.ids.globex, { slug: "globex" });
  }
});

test("instance shape and context nesting match the reference", async () => {
  // Nested scopes are separate transactions, so this needs a second connection.
  const pool = new pg.Pool({ connectionString: env.url, max: 2 });
  after(() => pool.end());
  const tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
  assert.deepEqual(Object.keys(tenant).slice(0, 9), [
    "getContext", "getDatabase", "runWithTenant", "runAs", "runAsSystem", "resolveTenant", "resolverStrategies", "handleRequest", "api",
  ]);
  assert.deepEqual(tenant.resolverStrategies, ["header 'x-tenant-id'"]);
  assert.equal(getContext(), undefined);
  await tenant.runAs("acme", async () => {
    assert.deepEqual(Object.keys(getContext()).sort(), ["database", "tenant", "tenantId"]);
    await tenant.runAs("globex", async (inner) => {
      assert.equal(getContext().tenantId, env.ids.globex);
      assert.deepEqual(names(await inner.select().from(projects)), ["globex-1"]);
    });
    assert.equal(getContext().tenantId, env.ids.acme, "outer context restored");
  });
  await runWithTenant(" t1 ", async () => assert.deepEqual(getContext(), { tenantId: "t1" }));
  await assert.rejects(runWithTenant("  ", async () => 1), { message: "better-tenant: tenantId must be a non-empty string" });
  const noLoad = make({ loadTenant: false });
  await noLoad.runAs("acme", async () => assert.deepEqual(Object.keys(getContext()).sort(), ["database", "tenantId"]));
});

test("console endpoints: registered once, with the reference's routes, statuses and bodies", async () => {
  let product;
  const tenant = make({ console: { registerProduct: (p) => (product = p) } });
  assert.equal(product.id, "tenant");
  assert.deepEqual(product.endpoints.map((e) => `${e.method} ${e.path} ${e.requiredPermission}`), [
    "GET /tenants read", "GET /tenants/:id read", "POST /tenants write", "PATCH /tenants/:id write", "DELETE /tenants/:id admin", "GET /stats read",
  ]);
  const call = (i, req) => product.endpoints[i].handler({ params: {}, query: {}, ...req });
  assert.deepEqual(await call(0, { query: { limit: "0" } }), { status: 400, body: { error: "Invalid 'limit': must be a positive integer (max 1000)" } });
  assert.deepEqual(await call(0, { query: { offset: "-1" } }), { status: 400, body: { error: "Invalid 'offset': must be a non-negative integer" } });
  const list = await call(0, { query: { limit: "5000" } });
  assert.equal(list.status, 200);
  assert.equal(typeof list.body[0].createdAt, "string");
  assert.deepEqual(await call(1, { params: { id: " " } }), { status: 400, body: { error: "Missing tenant id" } });
  assert.deepEqual(await call(1, { params: { id: "00000000-0000-4000-8000-000000000000" } }), { status: 404, body: { error: "Tenant not found" } });
  assert.deepEqual(await call(2, { body: "x" }), { status: 400, body: { error: "Request body is required" } });
  assert.deepEqual(await call(2, { body: { name: "x" } }), { status: 400, body: { error: "name and slug are required" } });
  assert.deepEqual(await call(2, { body: { name: "x", slug: "y".repeat(256) } }), { status: 400, body: { error: "name and slug must not exceed 255 characters" } });
  const created = await call(2, { body: { name: "Hooli", slug: "hooli" } });
  assert.equal(created.status, 201);
  assert.equal((await call(3, { params: { id: created.body.id }, body: { name: "Hooli XYZ" } })).body.name, "Hooli XYZ");
  assert.deepEqual(await call(5, {}), { status: 200, body: { tenantCount: 3 } });
  assert.deepEqual(await call(4, { params: { id: created.body.id } }), { status: 204, body: null });
  assert.deepEqual(await call(2, { body: { name: "dup", slug: "acme" } }), { status: 500, body: { error: "Internal server error" } });
  assert.equal(tenant.resolverStrategies.length, 1);
  assert.throws(() => make({ console: {} }), TenantConfigError);
});

test("ESM and CJS entries share one context store", async () => {
  const cjs = createRequire(import.meta.url)("@usebetterdev/tenant");
  await runWithTenant("shared", async () => {
    assert.deepEqual(cjs.getContext(), { tenantId: "shared" });
  });
  assert.equal(cjs.TenantScopeClosedError, TenantScopeClosedError);
});

test("hardened mode: raw SQL through getDatabase() cannot switch tenant or set the bypass", async () => {
  const key = "0123456789abcdef0123456789abcdef-hardened";
  const h = await tenantDatabase("thard");
  try {
    const c = new (await import("pg")).default.Client({ connectionString: h.url });
    await c.connect();
    // The hardened functions replace the plain ones; in production a separate owner role runs
    // this and keeps the key table out of the app's reach (see rls.test.mjs).
    const core = (await import("@usebetter-rs/core")).default;
    await c.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"], hardened: true }));
    await c.query("INSERT INTO better_tenant_private.context_key (key) VALUES (convert_to($1, 'UTF8'))", [key]);
    await c.end();
    const tenant = betterTenant({ database: drizzleDatabase(h.db), tenantResolver: { header: "x-tenant-id" }, hardened: { key } });
    const seen = await tenant.runAs(h.ids.acme, async (db) => {
      const own = names(await db.select().from(projects));
      await db.execute(sql`SELECT set_config('app.current_tenant', ${h.ids.globex}, true)`);
      const switched = names(await db.select().from(projects));
      await db.execute(sql`SELECT set_config('app.bypass_rls', 'true', true)`);
      const bypassed = names(await db.select().from(projects));
      return { own, switched, bypassed };
    });
    assert.deepEqual(seen, { own: ["acme-1", "acme-2"], switched: [], bypassed: [] });
    // The signed settings wait for the binding, and the first statement follows them in the
    // same round trip: Q (BEGIN + binding), then both statements before the second answer.
    const events = [];
    const onReady = () => events.push("ready");
    // Both of the pool's connections, whichever the scope gets.
    const lent = await Promise.all([h.pool.connect(), h.pool.connect()]);
    const write = lent[0].connection.stream.write;
    for (const c of lent) {
      c.connection.stream.write = function (chunk, ...rest) {
        const buf = Buffer.from(chunk);
        for (let i = 0; i < buf.length; i += 1 + buf.readInt32BE(i + 1)) events.push(String.fromCharCode(buf[i]));
        return write.call(this, chunk, ...rest);
      };
      c.connection.on("readyForQuery", onReady);
      c.release();
    }
    try {
      assert.deepEqual(await tenant.runAs(h.ids.acme, async (db) => names(await db.select().from(projects))), ["acme-1", "acme-2"]);
    } finally {
      for (const c of lent) {
        c.connection.stream.write = write;
        c.connection.off("readyForQuery", onReady);
      }
    }
    const second = events.indexOf("ready", events.indexOf("ready") + 1);
    assert.deepEqual(events.slice(0, 7), ["Q", "ready", "P", "B", "D", "E", "S"], events.join(" "));
    // The select (simple or extended protocol) is on its way before the settings' answer.
    assert.ok(["Q", "P"].includes(events[7]) && second > 7, events.join(" "));
    // tenant.api and slug lookups sign the bypass too.
    assert.equal(await tenant.api.countTenants(), 2);
    assert.equal(await tenant.resolveTenant({ headers: { "x-tenant-id": "globex" } }), h.ids.globex);
    const unsigned = betterTenant({ database: drizzleDatabase(h.db), tenantResolver: { header: "x-tenant-id" }, loadTenant: false });
    assert.deepEqual(await unsigned.runAs(h.ids.acme, async (db) => names(await db.select().from(projects))), []);
    assert.equal(await unsigned.api.countTenants(), 0, "an unsigned bypass sees no tenants");
  } finally {
    await h.close();
  }
});

test("hardened mode: signatures seen in pg_stat_activity, in logs or in an earlier transaction cannot be replayed", async () => {
  const key = "0123456789abcdef0123456789abcdef-replay";
  // One connection: every scope below runs on the same backend, one transaction after another.
  const h = await tenantDatabase("treplay", { poolSize: 1 });
  const { connectAs } = await import("./helpers/db.mjs");
  const watcher = await connectAs("app", "app", new URL(h.url).pathname.slice(1));
  try {
    const c = new pg.Client({ connectionString: h.url });
    await c.connect();
    const core = (await import("@usebetter-rs/core")).default;
    await c.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"], hardened: true }));
    await c.query("INSERT INTO better_tenant_private.context_key (key) VALUES (convert_to($1, 'UTF8'))", [key]);
    await c.end();
    // Everything the library sends, as a server log with log_statement = 'all' would show it.
    const sent = [];
    h.pool.on("connect", (client) => {
      const query = client.query;
      client.query = function (text, params) {
        sent.push(`${typeof text === "string" ? text : text?.text} ${JSON.stringify(params ?? text?.values ?? [])}`);
        return query.apply(this, arguments);
      };
    });
    const tenant = betterTenant({ database: drizzleDatabase(h.db), tenantResolver: { header: "x-tenant-id" }, hardened: { key } });
    let open;
    const gate = new Promise((resolve) => (open = resolve));
    const globexScope = tenant.runAs(h.ids.globex, async (db) => {
      await gate;
      return names(await db.select().from(projects));
    });
    while (!sent.some((s) => s.includes("app.tenant_sig"))) await new Promise((r) => setTimeout(r, 5));
    const activity = (await watcher.query("SELECT query FROM pg_stat_activity WHERE usename = 'app' AND pid <> pg_backend_pid()")).rows;
    open();
    assert.deepEqual(await globexScope, ["globex-1"]);
    assert.equal(await tenant.api.countTenants(), 2, "the library's own signed bypass works");
    const signatures = [...new Set(sent.join("\n").match(/[0-9a-f]{64}/g))];
    assert.ok(signatures.length >= 2, "a tenant and a bypass signature were sent");
    for (const { query } of activity) for (const s of signatures) assert.ok(!query.includes(s), "no signature in pg_stat_activity");

    // The attacker: SQL injected into acme's scope on the same connection, replaying everything seen.
    let successes = 0;
    let ownSignature;
    await tenant.runAs(h.ids.acme, async (db) => {
      ownSignature = (await db.execute(sql`SELECT current_setting('app.tenant_sig') AS s`)).rows[0].s;
    });
    for (const signature of [...signatures, ownSignature]) {
      const seen = await tenant.runAs(h.ids.acme, async (db) => {
        await db.execute(sql`SELECT set_config('app.current_tenant', ${h.ids.globex}, true), set_config('app.tenant_sig', ${signature}, true)`);
        const asGlobex = names(await db.select().from(projects));
        await db.execute(sql`SELECT set_config('app.current_tenant', ${h.ids.acme}, true), set_config('app.tenant_sig', ${ownSignature}, true)`);
        const asEarlierAcme = names(await db.select().from(projects));
        await db.execute(sql`SELECT set_config('app.bypass_rls', 'true', true), set_config('app.bypass_sig', ${signature}, true)`);
        const bypassed = names(await db.select().from(projects));
        return [...asGlobex, ...asEarlierAcme, ...bypassed];
      });
      successes += seen.length;
    }
    assert.equal(successes, 0, "no replayed signature unlocked a row");
  } finally {
    await watcher.end();
    await h.close();
  }
});

test("no handle reachable from a scope outlives it: nested transactions, saved sessions, callbacks' tx", async () => {
  const tenant = make();
  let nested;
  let session;
  let savedTx;
  await tenant.runAs(env.ids.acme, async (db) => {
    session = db._.session;
    // Started in acme's scope and left running: its callback runs after the scope ended.
    nested = db.transaction(async (tx) => {
      savedTx = tx;
      await new Promise((r) => setTimeout(r, 50));
      return names(await tx.select().from(projects));
    });
    nested.catch(() => {});
  });
  // globex's request takes the pool's only connection meanwhile.
  const globex = await tenant.runAs(env.ids.globex, async (db) => {
    await new Promise((r) => setTimeout(r, 100));
    return names(await db.select().from(projects));
  });
  assert.deepEqual(globex, ["globex-1"], "globex's request is unaffected");
  // Drizzle reports the failed ROLLBACK TO SAVEPOINT of the nested transaction as its own
  // DrizzleQueryError, with our error as the cause.
  await assert.rejects(nested, (err) => err instanceof TenantScopeClosedError || err?.cause instanceof TenantScopeClosedError);
  assert.throws(() => savedTx.select(), TenantScopeClosedError);
  await assert.rejects(async () => session.execute(sql`SELECT name FROM projects`), TenantScopeClosedError);
  await assert.rejects(async () => session.client.query("SELECT name FROM projects"), TenantScopeClosedError);
  // Still usable inside the scope: a nested transaction that is awaited works as before.
  const inside = await tenant.runAs(env.ids.acme, async (db) => db.transaction(async (tx) => names(await tx.select().from(projects))));
  assert.deepEqual(inside, ["acme-1", "acme-2"]);
});

test("a session-level bypass left on a pooled connection does not widen a later tenant scope", async () => {
  const tenant = make();
  // The pool has one connection: this poisons the very connection runAs gets next.
  await env.pool.query("SELECT set_config('app.bypass_rls', 'true', false), set_config('app.current_tenant', $1, false)", [env.ids.globex]);
  try {
    assert.deepEqual(await tenant.runAs(env.ids.acme, async (db) => names(await db.select().from(projects))), ["acme-1", "acme-2"]);
    const system = await tenant.runAsSystem(async (db) => names(await db.select().from(projects)));
    assert.deepEqual(system, ["acme-1", "acme-2", "globex-1"]);
  } finally {
    await env.pool.query("RESET app.bypass_rls; RESET app.current_tenant");
  }
});

test("database errors a scope can tell apart name what is missing and the fix; class and code stay", async () => {
  const t = betterTenant({ database: drizzleDatabase(env.db), tenantResolver: { header: "x-tenant-id" } });
  // A tenant table the RLS migration never covered: no trigger fills tenant_id.
  await env.pool.query("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text)");
  const missing = await t.runAs(env.ids.acme, (db) => db.execute(sql`INSERT INTO notes (body) VALUES ('x')`)).catch((e) => e);
  assert.equal((missing.cause ?? missing).code, "23502");
  assert.match(missing.message, /notes has no set_tenant_id trigger, so tenant_id stayed empty: .*`better-tenant add-table notes`/);
  // A row for another tenant, refused by the policy's WITH CHECK.
  const foreign = await t.runAs(env.ids.acme, (db) => db.insert(projects).values({ name: "x", tenantId: env.ids.globex })).catch((e) => e);
  assert.equal((foreign.cause ?? foreign).code, "42501");
  assert.match(foreign.message, new RegExp(`row's tenant_id is not the current tenant \\(${env.ids.acme}\\)`));
  assert.equal(foreign.constructor.name, missing.constructor.name, "the driver's error class is kept");
  // Any other error is left as it was.
  const other = await t.runAs(env.ids.acme, (db) => db.execute(sql`SELECT 1/0`)).catch((e) => e);
  assert.doesNotMatch(other.message, /better-tenant:/);
});
