// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The portal routes (spec §11, W13) mounted on real Hono, Express and Fastify servers and called
// as a Next route handler: a tenant manages its endpoints (create, update, test, health, rotate,
// reveal, disable, recover, delete) and reads its messages, deliveries, attempts and stats;
// another tenant gets 404 for every one of those ids; no tenant, 401; bad input, a coded 400.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { verifyWebhook } from "@usebetterdev/webhooks/receiver";
import * as honoPortal from "@usebetterdev/webhooks/hono";
import * as expressPortal from "@usebetterdev/webhooks/express";
import * as nextPortal from "@usebetterdev/webhooks/next";
import * as fastifyPortal from "@usebetterdev/webhooks/fastify";
import { loopbackConfig, recordingReceiver, webhooksDatabase } from "./helpers/webhooks.mjs";

let db, w, receiverUrl, receiver;
let received;
const servers = [];

before(async () => {
  db = await webhooksDatabase("webhooks_portal");
  w = betterWebhooks(loopbackConfig(db.pool, randomBytes(32).toString("base64"), { eventTypes: ["invoice.paid", "user.created"], delivery: { retrySchedule: [0.05], jitter: 0 } }));
  await db.pool.query(w.migrationSql(2));
  receiver = await recordingReceiver();
  received = receiver.received;
  receiverUrl = receiver.url("/hook");
});

after(async () => {
  await receiver?.close();
  for (const s of servers) await s();
  await db?.drop();
});

/**
 * The tenant a request acts for: the `x-tenant` header (an application's session would decide);
 * `x-tenant: down` stands for a session store that is unreachable (authorize throws).
 */
const tenantOf = (headers) => {
  const t = (typeof headers.get === "function" ? headers.get("x-tenant") : headers["x-tenant"]) ?? null;
  if (t === "down") throw new Error("session store unreachable");
  return t;
};

async function listen(server) {
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  servers.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${server.address().port}`;
}

/** Each framework mounted at /api/webhooks; returns `call(method, path, body?, tenant?)`. */
const frameworks = {
  async hono() {
    const app = new Hono();
    app.all("/api/webhooks/*", honoPortal.portalHandlers(w, { authorize: (c) => tenantOf(c.req.raw.headers), basePath: "/api/webhooks" }));
    app.onError((_err, c) => c.text("outage", 500));
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((r) => server.once("listening", r));
    servers.push(() => new Promise((r) => server.close(r)));
    return httpCaller(`http://127.0.0.1:${server.address().port}/api/webhooks`);
  },
  async express() {
    const app = express();
    // A JSON parser before the portal, as most applications have.
    app.use(express.json());
    // Mounted at the root with basePath: requests outside it go on to the app's own routes.
    app.use(expressPortal.portalHandlers(w, { authorize: (req) => tenantOf(req.headers), basePath: "/api/webhooks" }));
    app.get("/api/webhooksx/ping", (_req, res) => res.json({ app: true }));
    app.use((err, _req, res, _next) => res.status(err.status ?? 500).end(err.status ? "bad request" : "outage"));
    const root = await listen(createServer(app));
    assert.deepEqual(await (await fetch(`${root}/api/webhooksx/ping`)).json(), { app: true });
    return httpCaller(`${root}/api/webhooks`);
  },
  async fastify() {
    const app = Fastify();
    await app.register(fastifyPortal.portalHandlers(w, { authorize: (req) => tenantOf(req.headers) }), { prefix: "/api/webhooks" });
    await app.listen({ port: 0, host: "127.0.0.1" });
    servers.push(() => app.close());
    return httpCaller(`http://127.0.0.1:${app.server.address().port}/api/webhooks`);
  },
  async next() {
    const routes = nextPortal.portalHandlers(w, { authorize: (req) => tenantOf(req.headers), basePath: "/api/webhooks" });
    return async (method, path, body, tenant) => {
      const request = new Request(`http://app.test/api/webhooks${path}`, {
        method,
        headers: { ...(tenant ? { "x-tenant": tenant } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      });
      // A route handler that throws is answered 500 by Next.
      return routes[method](request).then(answer, () => ({ status: 500, body: undefined }));
    };
  },
};

async function answer(res) {
  const text = await res.text();
  const json = (res.headers.get("content-type") ?? "").includes("json");
  return { status: res.status, body: text && json ? JSON.parse(text) : text || undefined };
}

function httpCaller(base) {
  return async (method, path, body, tenant) =>
    answer(
      await fetch(`${base}${path}`, {
        method,
        headers: { ...(tenant ? { "x-tenant": tenant } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
      }),
    );
}

for (const [name, mount] of Object.entries(frameworks)) {
  test(`${name}: a tenant manages its endpoints and reads its deliveries; another tenant sees none of it`, async () => {
    const call = await mount();
    const A = randomUUID();
    const B = randomUUID();
    const as = (tenant) => (method, path, body) => call(method, path, body, tenant);
    const a = as(A);
    const b = as(B);

    assert.equal((await call("GET", "/endpoints")).status, 401);
    assert.equal((await call("GET", "/endpoints", undefined, "")).status, 401);

    const created = await a("POST", "/endpoints", { url: receiverUrl, eventTypes: ["invoice.*"], description: "billing" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const ep = created.body.endpoint;
    assert.match(ep.id, /^ep_/);
    assert.match(created.body.secret, /^whsec_/);
    const other = (await b("POST", "/endpoints", { url: receiverUrl })).body.endpoint;

    // Lists are the tenant's own.
    assert.deepEqual((await a("GET", "/endpoints")).body.data.map((e) => e.id), [ep.id]);
    assert.deepEqual((await b("GET", "/endpoints")).body.data.map((e) => e.id), [other.id]);

    // Update: changed fields only; null clears an optional one; bad input is a coded 400.
    const upd = await a("PATCH", `/endpoints/${ep.id}`, { description: null, metadata: { team: "billing" } });
    assert.equal(upd.status, 200, JSON.stringify(upd.body));
    assert.equal(upd.body.description, null);
    assert.deepEqual(upd.body.metadata, { team: "billing" });
    assert.deepEqual(upd.body.eventTypes, ["invoice.*"]);
    const badHeader = await a("PATCH", `/endpoints/${ep.id}`, { headers: { "x-a": "1\r\nx-b: 2" } });
    assert.deepEqual([badHeader.status, badHeader.body.error.code], [400, "WEBHOOKS_INVALID_HEADER"]);
    const noUrl = await a("PATCH", `/endpoints/${ep.id}`, { url: null });
    assert.deepEqual([noUrl.status, noUrl.body.error.code], [400, "WEBHOOKS_INVALID_ARGUMENT"]);
    assert.match(noUrl.body.error.message, /url/);
    // Express's own JSON parser (mounted before the portal here) answers a body that is not JSON.
    const notJson = await a("POST", "/endpoints", "{not json");
    assert.equal(notJson.status, 400);
    if (name !== "express") assert.equal(notJson.body.error.code, "WEBHOOKS_INVALID_ARGUMENT");
    const nul = await a("PATCH", `/endpoints/${ep.id}`, { description: "a\u0000b" });
    assert.deepEqual([nul.status, nul.body.error.code], [400, "WEBHOOKS_INVALID_ARGUMENT"]);
    assert.match(nul.body.error.message, /description/);
    // authorize() failing is the application's outage, not a 401: the framework answers 500.
    assert.equal((await call("GET", "/endpoints", undefined, "down")).status, 500);
    const badLimit = await a("GET", "/messages?limit=ten");
    assert.deepEqual([badLimit.status, badLimit.body.error.code], [400, "WEBHOOKS_INVALID_ARGUMENT"]);

    // A test message reaches the endpoint, signed with its secret, though its filter is invoice.*;
    // a real event type goes through send(), which checks its payload.
    const realType = await a("POST", `/endpoints/${ep.id}/test`, { eventType: "invoice.paid" });
    assert.deepEqual([realType.status, realType.body.error.code], [400, "WEBHOOKS_INVALID_ARGUMENT"]);
    received.length = 0;
    const sent = await a("POST", `/endpoints/${ep.id}/test`, {});
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await w.drain({ maxMs: 5_000 });
    assert.equal(received.length, 1);
    const v = await verifyWebhook({ headers: received[0].headers, body: received[0].body }, { secret: created.body.secret });
    assert.equal(v.id, sent.body.id);
    assert.equal(v.json.type, "webhook.test");

    const health = (await a("GET", `/endpoints/${ep.id}/health`)).body;
    assert.equal(health.status, "enabled");
    assert.equal(health.successRate24h, 1);
    assert.ok(health.lastSuccessAt);
    assert.equal((await a("GET", "/messages")).body.data[0].id, sent.body.id);
    assert.equal((await a("GET", `/messages/${sent.body.id}`)).body.id, sent.body.id);
    assert.equal((await a("GET", `/deliveries?endpointId=${ep.id}`)).body.data[0].status, "succeeded");
    assert.equal((await a("GET", `/attempts?endpointId=${ep.id}`)).body.data.length, 1);
    const stats = (await a("GET", "/stats?window=1h")).body;
    assert.equal(stats.delivered, 1);
    assert.equal((await a("GET", "/stats?window=2d")).status, 400);

    // Replay to another tenant's endpoint: not found (nothing is sent to it).
    const foreign = await a("POST", `/messages/${sent.body.id}/replay`, { endpointId: other.id });
    assert.deepEqual([foreign.status, foreign.body.error.code], [404, "WEBHOOKS_NOT_FOUND"]);
    // Replay: the same webhook-id once more.
    assert.deepEqual((await a("POST", `/messages/${sent.body.id}/replay`, {})).body, { replayed: 1 });
    await w.drain({ maxMs: 5_000 });
    assert.deepEqual(received.map((r) => r.headers["webhook-id"]), [sent.body.id, sent.body.id]);

    // Rotation and reveal.
    const rotated = await a("POST", `/endpoints/${ep.id}/rotate-secret`, { graceHours: 0 });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.secret, created.body.secret);
    assert.equal((await a("GET", `/endpoints/${ep.id}/secret`)).body.secret, rotated.body.secret);

    // Tenant B: every id of A is "not found", and nothing changed.
    for (const [method, path, body] of [
      ["GET", `/endpoints/${ep.id}`],
      ["PATCH", `/endpoints/${ep.id}`, { description: "mine now" }],
      ["POST", `/endpoints/${ep.id}/test`, {}],
      ["GET", `/endpoints/${ep.id}/health`],
      ["GET", `/endpoints/${ep.id}/secret`],
      ["POST", `/endpoints/${ep.id}/rotate-secret`, {}],
      ["POST", `/endpoints/${ep.id}/disable`, {}],
      ["POST", `/endpoints/${ep.id}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() }],
      ["DELETE", `/endpoints/${ep.id}`],
      ["GET", `/messages/${sent.body.id}`],
      ["POST", `/messages/${sent.body.id}/replay`, {}],
    ]) {
      const r = await b(method, path, body);
      assert.deepEqual([r.status, r.body?.error?.code], [404, "WEBHOOKS_NOT_FOUND"], `${method} ${path}: ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual((await b("GET", "/messages")).body.data, []);
    assert.deepEqual((await b("GET", `/deliveries?endpointId=${ep.id}`)).body.data, []);
    assert.deepEqual((await b("GET", `/attempts?endpointId=${ep.id}`)).body.data, []);
    assert.equal((await b("GET", "/stats?window=1h")).body.delivered, 0);
    assert.equal((await a("GET", `/endpoints/${ep.id}`)).body.status, "enabled");
    assert.equal((await a("GET", `/endpoints/${ep.id}/secret`)).body.secret, rotated.body.secret);

    // Disabled: no test message; enabled again; recover finds nothing exhausted; delete.
    assert.equal((await a("POST", `/endpoints/${ep.id}/disable`, { reason: "maintenance" })).body.disabledReason, "maintenance");
    const refused = await a("POST", `/endpoints/${ep.id}/test`, {});
    assert.deepEqual([refused.status, refused.body.error.code], [409, "WEBHOOKS_ENDPOINT_DISABLED"]);
    const offRecover = await a("POST", `/endpoints/${ep.id}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() });
    assert.deepEqual([offRecover.status, offRecover.body.error.code], [409, "WEBHOOKS_ENDPOINT_DISABLED"]);
    assert.equal((await a("POST", `/endpoints/${ep.id}/disable`, { reason: 7 })).status, 400);
    assert.equal((await a("POST", `/endpoints/${ep.id}/enable`)).body.status, "enabled");
    const recovered = await a("POST", `/endpoints/${ep.id}/recover`, { since: new Date(Date.now() - 3_600_000).toISOString() });
    assert.deepEqual(recovered.body, { recovered: 0 });
    assert.equal((await a("POST", `/endpoints/${ep.id}/recover`, { since: "yesterday" })).status, 400);
    assert.equal((await a("POST", `/endpoints/${ep.id}/recover`, { since: "+010000-01-01T00:00:00Z" })).status, 400);
    const beyond = await a("POST", `/endpoints/${ep.id}/recover`, { since: "2001-01-01T00:00:00Z" });
    assert.deepEqual([beyond.status, beyond.body.error.code], [400, "WEBHOOKS_INVALID_ARGUMENT"]);
    assert.match(beyond.body.error.message, /retention\.days/);
    assert.equal((await a("DELETE", `/endpoints/${ep.id}`)).status, 204);
    assert.equal((await a("GET", `/endpoints/${ep.id}`)).status, 404);
    assert.equal((await a("GET", "/nowhere")).status, 404);
    assert.equal((await a("DELETE", "/stats")).status, 405);
  });
}
