// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// E11, RFC 8058 one-click unsubscribe end to end: a `notifications` message carries both headers
// (a `transactional` one neither); the handler, mounted in Hono and in Express, answers a POST of
// `List-Unsubscribe=One-Click` (urlencoded or multipart, no cookies) with 200 and no redirect and
// suppresses that tenant's category; repeated POSTs change nothing, a GET changes nothing, a
// tampered or foreign token is a 404; the next `notifications` mail to the address is
// suppressed while a `transactional` one is delivered; no address in clear in the token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { Hono } from "hono";
import express from "express";
import { betterEmail } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport } from "@usebetterdev/email/testing";
import { unsubscribeHandler } from "@usebetterdev/email/hono";
import { unsubscribeHandler as expressUnsubscribe } from "@usebetterdev/email/express";
import { webhooksDatabase, inTenant as inTenantOf, asSystem } from "./helpers/webhooks.mjs";

const TENANT = randomUUID();
const KEY = randomBytes(32).toString("base64");
let db, pool, capture, email, server, expressBase;

const inTenant = (fn) => inTenantOf(pool, TENANT, fn);
const unfold = (raw) => Buffer.from(raw).toString().replace(/\r\n[ \t]+/g, " ");
const header = (raw, name) => new RegExp(`^${name}: (.*)$`, "mi").exec(unfold(raw))?.[1];
const suppressions = () => asSystem(pool, "SELECT tenant_id, address, category, reason, source FROM email_suppressions ORDER BY created_at");

before(async () => {
  db = await webhooksDatabase("email_unsubscribe");
  pool = db.pool;
  capture = captureTransport();
  email = betterEmail({
    database: sqlEmailAdapter(pool),
    transport: capture,
    from: "Acme <news@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u", mailto: "unsubscribe@acme.example" },
    secretsKey: KEY,
  });
  await pool.query(email.migrationSql(1));
  const app = express();
  app.all("/email/u/:token", expressUnsubscribe(email));
  server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  expressBase = `http://127.0.0.1:${server.address().port}/email/u`;
});

after(async () => {
  server?.close();
  await db?.drop();
});

async function deliveredTo(address, input) {
  const r = await inTenant((c) => email.send({ to: address, subject: "Weekly digest", text: "news", ...input }, { tx: c }));
  await email.drain({ maxMs: 10_000 });
  return { result: r, message: capture.sent().find((m) => m.id === r.id) };
}

test("E11: headers, the one-click POST through Hono and Express, GET and bad tokens, and what the suppression blocks", async () => {
  const { message } = await deliveredTo("Reader@Example.com", { category: "notifications" });
  assert.ok(message, "the notifications mail was handed off");
  const lu = header(message.raw, "List-Unsubscribe");
  assert.equal(header(message.raw, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  const m = /^<(https:\/\/app\.acme\.example\/email\/u\/(u1\.[A-Za-z0-9_-]+))>, <mailto:unsubscribe@acme\.example>$/.exec(lu);
  assert.ok(m, `List-Unsubscribe: ${lu}`);
  const [, link, token] = m;
  // Opaque: neither the address nor the tenant appears in the token or its base64url payload.
  const payload = Buffer.from(token.slice(3), "base64url").toString("latin1");
  for (const secret of ["reader", "example.com", TENANT]) {
    assert.ok(!token.toLowerCase().includes(secret) && !payload.toLowerCase().includes(secret), `${secret} in the token`);
  }
  const { message: plain } = await deliveredTo("reader@example.com", { category: "transactional" });
  assert.equal(header(plain.raw, "List-Unsubscribe"), undefined, "transactional mail has no unsubscribe link");

  const hono = new Hono();
  hono.all("/email/u/:token", unsubscribeHandler(email));
  const path = new URL(link).pathname;
  // A GET (a mail scanner's prefetch, a person's click) only shows the confirmation page.
  const get = await hono.request(path);
  assert.equal(get.status, 200);
  assert.match(await get.text(), /<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">/);
  assert.deepEqual(await suppressions(), []);

  const post = await hono.request(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
  assert.equal(post.status, 200);
  assert.equal(post.headers.get("location"), null, "no redirect (RFC 8058 §3.1)");
  assert.equal(post.headers.get("set-cookie"), null);
  const expected = [{ tenant_id: TENANT, address: "reader@example.com", category: "notifications", reason: "unsubscribe", source: "unsubscribe_link" }];
  assert.deepEqual(await suppressions(), expected);
  const again = await hono.request(path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
  assert.equal(again.status, 200);
  assert.deepEqual(await suppressions(), expected, "a repeated POST adds nothing");

  // The same through Express over real HTTP, multipart this time.
  const form = new FormData();
  form.set("List-Unsubscribe", "One-Click");
  const viaExpress = await fetch(`${expressBase}/${token}`, { method: "POST", body: form, redirect: "manual" });
  assert.equal(viaExpress.status, 200);
  assert.equal(viaExpress.headers.get("location"), null);
  assert.deepEqual(await suppressions(), expected);
  const noField = await fetch(`${expressBase}/${token}`, { method: "POST", body: new URLSearchParams({ other: "x" }) });
  assert.equal(noField.status, 400);

  // Tampered, truncated, foreign-key and garbage tokens: 404, nothing written.
  const foreign = betterEmail({
    database: sqlEmailAdapter(pool),
    transport: captureTransport(),
    from: "x@acme.example",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
  });
  const flip = token.slice(0, 12) + (token[12] === "A" ? "B" : "A") + token.slice(13);
  for (const bad of [flip, token.slice(0, -3), "u1.", "nope"]) {
    const r = await hono.request(`/email/u/${bad}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    assert.equal(r.status, 404, bad);
  }
  const viaForeign = await foreign.handlers.unsubscribe(new Request(`https://app.acme.example${path}`, { method: "POST", body: new URLSearchParams({ "List-Unsubscribe": "One-Click" }) }));
  assert.equal(viaForeign.status, 404);
  assert.deepEqual(await suppressions(), expected);

  // The next notifications mail to the address is suppressed; transactional mail still goes.
  const blocked = await inTenant((c) => email.send({ to: "READER@example.com", subject: "Weekly digest", text: "news", category: "notifications" }, { tx: c }));
  assert.equal(blocked.status, "suppressed");
  assert.deepEqual(blocked.suppressed, [{ address: "READER@example.com", reason: "unsubscribe" }]);
  const { result, message: still } = await deliveredTo("reader@example.com", { category: "transactional", subject: "Your password was changed" });
  assert.equal(result.status, "queued");
  assert.ok(still, "the transactional mail was handed off");
});
