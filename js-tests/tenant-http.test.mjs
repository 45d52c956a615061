// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The seed's Hono example, an Express app and a Next route handler, over real HTTP where the
// framework has a server: isolation, resolution fixes, rollback on throw, client aborts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import express from "express";
import { betterTenant, getContext, TenantMiddlewareError, TenantScopeClosedError } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import { createExpressMiddleware } from "@usebetterdev/tenant/express";
import { withTenant } from "@usebetterdev/tenant/next";
import { SECRET, signJwt, nowSeconds } from "./helpers/keys.mjs";
import { names, projects, tenantDatabase } from "./helpers/app.mjs";

let env;
let tenant;
const servers = [];

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

before(async () => {
  env = await tenantDatabase("thttp", { poolSize: 2 });
  tenant = betterTenant({
    database: drizzleDatabase(env.db),
    tenantResolver: { header: "x-tenant-id", jwt: { claim: "tenant_id", secret: SECRET } },
  });
});

after(async () => {
  for (const s of servers) s.close();
  await env?.close();
});

async function honoApp() {
  // The seed's code, unchanged apart from the test routes.
  const app = new Hono();
  app.use("/api/*", createHonoMiddleware(tenant));
  app.get("/api/projects", async (c) => c.json(await tenant.getDatabase().select().from(projects)));
  app.get("/api/whoami", (c) => c.json({ slug: getContext()?.tenant?.slug ?? null }));
  app.post("/api/projects/fail", async () => {
    await tenant.getDatabase().insert(projects).values({ name: "hono-doomed" });
    throw new Error("handler failed");
  });
  app.onError((err, c) => c.json({ error: err.message }, 500));
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  servers.push(server);
  await new Promise((r) => server.once("listening", r));
  return `http://127.0.0.1:${server.address().port}`;
}

async function expressApp() {
  const app = express();
  app.use("/api", createExpressMiddleware(tenant));
  app.get("/api/projects", async (_req, res) => res.json(await tenant.getDatabase().select().from(projects)));
  app.post("/api/projects/fail", async () => {
    await tenant.getDatabase().insert(projects).values({ name: "express-doomed" });
    throw new Error("handler failed");
  });
  app.get("/api/slow", async (req, res) => {
    const db = tenant.getDatabase();
    // Wait until the client has gone away, then try to keep using the scope's handle.
    await new Promise((r) => req.once("close", r));
    await new Promise((r) => setTimeout(r, 50));
    try {
      slowResult.rows = names(await db.select().from(projects));
    } catch (err) {
      slowResult.error = err;
    }
    slowResult.done();
    res.end();
  });
  app.use((err, _req, res, _next) => res.status(500).json({ error: err.message }));
  const server = http.createServer(app);
  servers.push(server);
  return listen(server);
}
const slowResult = {};

async function get(base, path, headers = {}) {
  const r = await fetch(`${base}${path}`, { headers });
  return { status: r.status, body: await r.json().catch(() => null) };
}

for (const [label, start] of [["Hono", honoApp], ["Express", expressApp]]) {
  test(`${label}: each tenant sees only its rows; missing and unknown tenants get the reference's 404`, async () => {
    const base = await start();
    const acme = await get(base, "/api/projects", { "x-tenant-id": "acme" });
    assert.equal(acme.status, 200);
    assert.deepEqual(names(acme.body), ["acme-1", "acme-2"]);
    const globexUpper = await get(base, "/api/projects", { "x-tenant-id": env.ids.globex.toUpperCase() });
    assert.deepEqual(names(globexUpper.body), ["globex-1"], "upper-case UUID resolves (B3)");
    const none = await get(base, "/api/projects");
    assert.deepEqual(none, { status: 404, body: { error: "Tenant could not be resolved. Checked: header 'x-tenant-id', jwt claim 'tenant_id'" } });
    const unknown = await get(base, "/api/projects", { "x-tenant-id": "00000000-0000-4000-8000-000000000000" });
    assert.equal(unknown.status, 404, "unknown UUID is not served empty (B3)");
    const token = signJwt({ tenant_id: "globex", exp: nowSeconds() + 60 });
    const viaJwt = await get(base, "/api/projects", { authorization: `Bearer ${token}` });
    assert.deepEqual(names(viaJwt.body), ["globex-1"], "verified Bearer JWT resolves (B5)");
    const forged = signJwt({ tenant_id: "globex" }).replace(/\.[^.]+$/, ".AAAA");
    assert.equal((await get(base, "/api/projects", { authorization: `Bearer ${forged}` })).status, 404);
  });

  test(`${label}: a handler that throws rolls back its writes`, async () => {
    const base = await start();
    const r = await fetch(`${base}/api/projects/fail`, { method: "POST", headers: { "x-tenant-id": "acme" } });
    assert.equal(r.status, 500);
    const rows = await tenant.runAs("acme", async (db) => names(await db.select().from(projects)));
    assert.ok(!rows.some((n) => n.endsWith("-doomed")), rows.join(","));
  });
}

test("Hono: path, subdomain and custom strategies each get the parts of the request they read", async () => {
  const make = (tenantResolver) => betterTenant({ database: drizzleDatabase(env.db), tenantResolver });
  const seen = [];
  const strategies = [
    ["/p", make({ path: "/p/:tenantId/*" })],
    ["/s", make({ subdomain: true })],
    ["/c", make({ custom: (r) => (seen.push({ path: r.path, host: r.host, url: r.url }), "globex") })],
    ["/h", make({ header: "x-tenant-id" })],
  ];
  const app = new Hono();
  for (const [prefix, t] of strategies) {
    app.use(`${prefix}/*`, createHonoMiddleware(t));
    app.get(`${prefix}/*`, async (c) => c.json(names(await t.getDatabase().select().from(projects))));
  }
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  servers.push(server);
  await new Promise((r) => server.once("listening", r));
  const port = server.address().port;
  // Through http.request: the Host header is the client's to choose there.
  const call = (path, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path, headers }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      });
      req.on("error", reject);
      req.end();
    });
  assert.deepEqual(await call("/p/acme/projects"), { status: 200, body: ["acme-1", "acme-2"] }, "path");
  assert.deepEqual(await call("/s/projects", { host: `globex.example.com:${port}` }), { status: 200, body: ["globex-1"] }, "subdomain");
  assert.equal((await call("/s/projects", { host: `example.com:${port}` })).status, 404, "no tenant label");
  assert.deepEqual(await call("/c/projects?x=1", { host: `custom.example.com:${port}` }), { status: 200, body: ["globex-1"] }, "custom");
  assert.deepEqual(seen, [{ path: "/c/projects", host: "custom.example.com", url: `http://custom.example.com:${port}/c/projects?x=1` }]);
  assert.deepEqual(await call("/h/projects", { "x-tenant-id": "acme", host: `globex.example.com:${port}` }), { status: 200, body: ["acme-1", "acme-2"] }, "header");
  assert.equal((await call("/h/p/globex/projects", { host: `globex.example.com:${port}` })).status, 404, "a header strategy reads neither path nor host");
});

test("Hono: the middleware loads getContext().tenant (B1)", async () => {
  const base = await honoApp();
  assert.deepEqual((await get(base, "/api/whoami", { "x-tenant-id": env.ids.acme })).body, { slug: "acme" });
});

test("Hono: a request whose client left before its scope began runs no handler and still gets a response", async () => {
  let ran = false;
  const app = new Hono();
  app.use("/api/*", createHonoMiddleware(tenant));
  app.get("/api/projects", (c) => {
    ran = true;
    return c.json([]);
  });
  // @hono/node-server hands the Node response in the env: here one whose client is gone.
  const gone = { outgoing: { destroyed: true, writableFinished: false } };
  const res = await app.fetch(new Request("http://localhost/api/projects", { headers: { "x-tenant-id": "acme" } }), gone);
  assert.equal(res.status, 499);
  assert.equal(ran, false);
});

test("Express: after a client abort the handler cannot query, and never sees another request's rows", async () => {
  const base = await expressApp();
  const finished = new Promise((r) => (slowResult.done = r));
  const controller = new AbortController();
  const pending = fetch(`${base}/api/slow`, { headers: { "x-tenant-id": "acme" }, signal: controller.signal }).catch(() => null);
  await new Promise((r) => setTimeout(r, 100));
  controller.abort();
  await pending;
  // Meanwhile another tenant's request takes the freed connection.
  const other = await get(base, "/api/projects", { "x-tenant-id": "globex" });
  assert.deepEqual(names(other.body), ["globex-1"]);
  await finished;
  assert.ok(slowResult.error instanceof TenantScopeClosedError, `expected TenantScopeClosedError, got ${slowResult.error ?? JSON.stringify(slowResult.rows)}`);
});

test("Next: withTenant scopes a route handler; a throw rolls back and rejects with TenantMiddlewareError", async () => {
  const GET = withTenant(tenant, async () => Response.json(await tenant.getDatabase().select().from(projects)));
  const res = await GET(new Request("http://app.test/api/projects", { headers: { "x-tenant-id": "globex" } }), { params: {} });
  assert.deepEqual(names(await res.json()), ["globex-1"]);
  const missing = await GET(new Request("http://app.test/api/projects"), undefined);
  assert.equal(missing.status, 404);
  const POST = withTenant(tenant, async () => {
    await tenant.getDatabase().insert(projects).values({ name: "next-doomed" });
    throw new Error("route failed");
  });
  await assert.rejects(POST(new Request("http://app.test/x", { method: "POST", headers: { "x-tenant-id": "acme" } }), {}), (err) => {
    assert.ok(err instanceof TenantMiddlewareError);
    assert.equal(err.cause.message, "route failed");
    return true;
  });
  const rows = await tenant.runAs("acme", async (db) => names(await db.select().from(projects)));
  assert.ok(!rows.includes("next-doomed"));
  const unauthorized = withTenant(tenant, async () => new Response("x"), { missingTenantStatus: 401 });
  assert.equal((await unauthorized(new Request("http://app.test/"), {})).status, 401);
});
