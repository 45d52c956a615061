// Audit middleware: actor from a verified (or, without keys, decoded) Bearer token, a header or
// a cookie, plus request metadata, for Hono, Express (real HTTP) and Next.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Hono } from "hono";
import express from "express";
import { getAuditContext, fromHeader, fromCookie, fromBearerToken } from "@usebetterdev/audit";
import { betterAuditHono } from "@usebetterdev/audit/hono";
import { betterAuditExpress } from "@usebetterdev/audit/express";
import { withAuditRoute, withAudit, createAuditMiddleware, AUDIT_ACTOR_HEADER } from "@usebetterdev/audit/next";
import { SECRET, signJwt, nowSeconds } from "./helpers/keys.mjs";

const token = (claims) => `Bearer ${signJwt({ exp: nowSeconds() + 60, ...claims })}`;

test("extractors", async () => {
  const req = (headers) => new Request("http://x.test/", { headers });
  assert.equal(await fromHeader("x-user")(req({ "x-user": "  u1 " })), "u1");
  assert.equal(await fromHeader("x-user")(req({ "x-user": " " })), undefined);
  assert.equal(await fromCookie("sid")(req({ cookie: "a=1; sid=abc==; b=2" })), "abc==");
  assert.equal(await fromBearerToken("sub")(req({ authorization: token({ sub: "Müller" }) })), "Müller", "UTF-8 claims decode correctly");
  assert.equal(await fromBearerToken("sub")(req({ authorization: token({ sub: 42 }) })), undefined);
  const verified = fromBearerToken("sub", { secret: SECRET });
  assert.equal(await verified(req({ authorization: token({ sub: "u2" }) })), "u2");
  const forged = token({ sub: "admin" }).replace(/\.[^.]+$/, ".AAAA");
  assert.equal(await verified(req({ authorization: forged })), undefined, "a forged token gives no actor");
  assert.equal(await verified(req({ authorization: token({ sub: "u3", exp: nowSeconds() - 5 }) })), undefined, "expired");
  // Decoding without keys still refuses an unsigned token, and reads one word after the scheme.
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const unsigned = `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "admin" })}.`;
  assert.equal(await fromBearerToken("sub")(req({ authorization: unsigned })), undefined, "alg none gives no actor");
  assert.equal(await fromBearerToken("sub")(req({ authorization: `bearer   ${signJwt({ sub: "u4" })}  ` })), "u4");
  assert.equal(await fromBearerToken("sub")(req({ authorization: `${token({ sub: "u5" })} extra` })), undefined);
});

test("Hono: actor and request metadata for the rest of the chain", async () => {
  const app = new Hono();
  app.use("*", betterAuditHono({ extractor: { actor: fromBearerToken("sub", { secret: SECRET }) } }));
  app.get("/who", async (c) => {
    await new Promise((r) => setTimeout(r, 5));
    return c.json(getAuditContext() ?? null);
  });
  const res = await app.request("/who", { headers: { authorization: token({ sub: "u1" }), "user-agent": "tests", "x-request-id": "r-1" } });
  assert.deepEqual(await res.json(), { actorId: "u1", metadata: { requestId: "r-1", method: "GET", path: "/who", userAgent: "tests" } });
  const plain = betterAuditHono({ requestMetadata: false });
  const app2 = new Hono();
  app2.use("*", plain);
  app2.get("/", (c) => c.json(getAuditContext() ?? null));
  assert.equal(await (await app2.request("/")).json(), null, "no actor, no metadata: no context");
});

test("Express: the context survives awaits in async handlers", async () => {
  const app = express();
  app.use(betterAuditExpress({ extractor: { actor: fromHeader("x-user") } }));
  app.get("/who", async (_req, res) => {
    await new Promise((r) => setTimeout(r, 5));
    res.json(getAuditContext());
  });
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const res = await fetch(`http://127.0.0.1:${server.address().port}/who?x=1`, { headers: { "x-user": "u9" } });
    const ctx = await res.json();
    assert.equal(ctx.actorId, "u9");
    assert.equal(ctx.metadata.path, "/who");
    assert.equal(ctx.metadata.method, "GET");
    assert.equal(ctx.metadata.ip, "127.0.0.1");
  } finally {
    server.close();
  }
});

test("Next: route wrapper, anti-spoofing middleware, server action outside a request", async () => {
  const GET = withAuditRoute(async () => Response.json(getAuditContext()), { extractor: { actor: fromHeader(AUDIT_ACTOR_HEADER) } });
  const ctx = await (await GET(new Request("http://app.test/api/x", { headers: { [AUDIT_ACTOR_HEADER]: "u5" } }), {})).json();
  assert.equal(ctx.actorId, "u5");
  const mw = createAuditMiddleware();
  const out = await mw(new Request("http://app.test/", { headers: { [AUDIT_ACTOR_HEADER]: "spoofed" } }));
  assert.equal(out.headers.get(`x-middleware-request-${AUDIT_ACTOR_HEADER}`), "", "a client-sent actor header is overwritten");
  assert.equal(out.headers.get("x-middleware-next"), "1");
  const withToken = await mw(new Request("http://app.test/", { headers: { authorization: token({ sub: "u6" }) } }));
  assert.equal(withToken.headers.get(`x-middleware-request-${AUDIT_ACTOR_HEADER}`), "u6");
  const errors = [];
  const action = withAudit(async (n) => n * 2, { onError: (e) => errors.push(e) });
  assert.equal(await action(21), 42);
  assert.equal(errors.length, 1, "no Next request scope: reported, action still runs");
});
