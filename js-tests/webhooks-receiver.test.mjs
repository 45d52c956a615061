// The receiver middleware (spec §12, §20 W21) on real loopback servers with a real PostgreSQL
// inbox: a delivery's handler runs once however often (and however concurrently) it arrives,
// a throwing handler answers 500 and commits nothing, a JSON-parsing middleware mounted before
// the receiver does not break verification, and a bad signature answers 401 with its code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import express from "express";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import core from "@usebetter-rs/core";
import { freshDatabase, connectAs, requireEnv } from "./helpers/db.mjs";
import { signWebhook, generateSecret } from "@usebetterdev/webhooks/receiver";
import * as honoReceiver from "@usebetterdev/webhooks/hono";
import * as expressReceiver from "@usebetterdev/webhooks/express";
import * as nextReceiver from "@usebetterdev/webhooks/next";
import * as fastifyReceiver from "@usebetterdev/webhooks/fastify";
import Fastify from "fastify";

const SECRET = generateSecret("v1").secret;
let database;
let pool;
let db;
const servers = [];
const duplicates = [];
const failOnce = new Set();

before(async () => {
  database = await freshDatabase("wh_receiver");
  const c = await connectAs("app", "app", database.name);
  await c.query(new core.Webhooks({ tenancy: "none" }, false).migrationSql(Date.now(), 2));
  await c.query("CREATE TABLE processed (source text NOT NULL, webhook_id text NOT NULL, note text)");
  await c.end();
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${database.name}`;
  pool = new pg.Pool({ connectionString: url.toString(), max: 6 });
  // The minimal executor of `webhooksInbox`, over node-postgres.
  db = {
    execute: (text, values) => pool.query(text, values),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const out = await fn({ execute: (text, values) => client.query(text, values) });
        await client.query("COMMIT");
        return out;
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      } finally {
        client.release();
      }
    },
  };
});

after(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await pool?.end();
  await database?.drop();
});

/** The receiver options every framework gets; the handler writes inside the inbox transaction. */
function options(m, source) {
  return {
    secret: SECRET,
    inbox: m.webhooksInbox(db, { source }),
    async handler(event, tx) {
      await tx.execute("INSERT INTO processed (source, webhook_id, note) VALUES ($1, $2, $3)", [source, event.id, event.json.note]);
      if (event.json.delayMs) await new Promise((r) => setTimeout(r, event.json.delayMs));
      if (event.json.fail || failOnce.delete(event.id)) throw new Error("handler failed");
    },
    onError: (err) => { if (!/handler failed/.test(err.message)) console.error("onError", source, err); },
    onDuplicate: (event, err) => duplicates.push({ source, id: event.id, code: err.code, name: err.name }),
  };
}

const listen = (server) => new Promise((resolve) => server.once("listening", () => resolve(`http://127.0.0.1:${server.address().port}`)));

const frameworks = {
  async hono() {
    const app = new Hono();
    app.post("/hook", honoReceiver.webhookReceiver(options(honoReceiver, "hono")));
    // A JSON-parsing middleware before the receiver (Hono caches the body it read).
    app.use("/parsed/*", async (c, next) => {
      c.set("parsed", await c.req.json());
      await next();
    });
    app.post("/parsed/hook", honoReceiver.webhookReceiver(options(honoReceiver, "hono-parsed")));
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    servers.push(server);
    return { base: await listen(server), parsed: "/parsed/hook" };
  },
  async express() {
    const app = express();
    app.post("/hook", expressReceiver.webhookReceiver(options(expressReceiver, "express")));
    // JSON parsing mounted before the receiver, keeping the bytes it read.
    app.use("/parsed", express.json({ verify: expressReceiver.keepRawBody }));
    app.post("/parsed/hook", expressReceiver.webhookReceiver(options(expressReceiver, "express-parsed")));
    app.post("/raw/hook", express.raw({ type: "*/*" }), expressReceiver.webhookReceiver(options(expressReceiver, "express-raw")));
    // Parsed before and the bytes dropped: refused with the fix, never verified on re-serialised JSON.
    app.use("/lost", express.json());
    app.post("/lost/hook", expressReceiver.webhookReceiver(options(expressReceiver, "express-lost")));
    const server = app.listen(0, "127.0.0.1");
    servers.push(server);
    return { base: await listen(server), parsed: "/parsed/hook" };
  },
  async fastify() {
    const app = Fastify();
    app.register(fastifyReceiver.webhookReceiver({ ...options(fastifyReceiver, "fastify"), path: "/hook" }));
    // A scope whose own JSON parser (replacing Fastify's) runs on everything else in it.
    app.register(async (scope) => {
      scope.removeContentTypeParser("application/json");
      scope.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => done(null, { parsed: JSON.parse(body) }));
      scope.post("/echo", async (req) => req.body);
      scope.register(fastifyReceiver.webhookReceiver(options(fastifyReceiver, "fastify-parsed")), { prefix: "/hook" });
    }, { prefix: "/parsed" });
    await app.listen({ port: 0, host: "127.0.0.1" });
    servers.push(app.server);
    const base = `http://127.0.0.1:${app.server.address().port}`;
    // The scope's parser is in force beside the receiver.
    const echo = await fetch(`${base}/parsed/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"a\": 1}" });
    assert.deepEqual(await echo.json(), { parsed: { a: 1 } });
    return { base, parsed: "/parsed/hook" };
  },
  async next() {
    // The app router's route handler is a (Request) => Response function.
    const POST = nextReceiver.webhookReceiver(options(nextReceiver, "next"));
    const { createServer } = await import("node:http");
    const { getRequestListener } = await import("@hono/node-server");
    const server = createServer(getRequestListener((request) => POST(request)));
    server.listen(0, "127.0.0.1");
    servers.push(server);
    return { base: await listen(server), parsed: null };
  },
};

let seq = 0;
function delivery(data, { secret = SECRET, id = `msg_${process.pid}_${++seq}` } = {}) {
  // Spaces a re-serialisation would remove: only the exact bytes verify.
  const body = JSON.stringify(data).replaceAll(",", ", ");
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook({ id, timestamp, body, secret }) };
  return { id, body, headers };
}

async function post(url, d) {
  const res = await fetch(url, { method: "POST", headers: d.headers, body: d.body });
  return { status: res.status, json: await res.json() };
}

const rows = async (source, id) => (await pool.query("SELECT note FROM processed WHERE source = $1 AND webhook_id = $2", [source, id])).rows;
const inboxRows = async (source, id) => (await pool.query("SELECT 1 FROM webhook_inbox WHERE source = $1 AND webhook_id = $2", [source, id])).rowCount;

for (const name of Object.keys(frameworks)) {
  test(`W21 ${name}: valid, duplicate, concurrent duplicates, throwing handler, bad signature`, async () => {
    const { base, parsed } = await frameworks[name]();
    const url = `${base}/hook`;

    const first = delivery({ note: "first" });
    assert.deepEqual(await post(url, first), { status: 200, json: { ok: true } });
    assert.deepEqual(await rows(name, first.id), [{ note: "first" }]);
    assert.equal(await inboxRows(name, first.id), 1);

    // The same delivery again: 200, nothing written, reported as a duplicate.
    duplicates.length = 0;
    assert.deepEqual(await post(url, first), { status: 200, json: { ok: true, duplicate: true } });
    assert.deepEqual(await rows(name, first.id), [{ note: "first" }]);
    assert.deepEqual(duplicates, [{ source: name, id: first.id, code: "WEBHOOK_DUPLICATE", name: "WebhookVerificationError" }]);

    // Eight copies at once; the handler holds its transaction open for a while.
    duplicates.length = 0;
    const burst = delivery({ note: "burst", delayMs: 150 });
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(url, burst)));
    assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers));
    assert.equal(answers.filter((a) => a.json.duplicate).length, 7);
    assert.deepEqual(await rows(name, burst.id), [{ note: "burst" }]);
    assert.equal(duplicates.length, 7);

    // A throwing handler: 500, and neither its write nor the inbox row is committed.
    const failing = delivery({ note: "fails", fail: true });
    const failed = await post(url, failing);
    assert.equal(failed.status, 500);
    assert.equal(failed.json.error.message, "the webhook handler failed; the delivery will be retried");
    assert.deepEqual(await rows(name, failing.id), []);
    assert.equal(await inboxRows(name, failing.id), 0);
    // The sender's retry after a failure is processed (the failed attempt left no claim).
    const flaky = delivery({ note: "retried" });
    failOnce.add(flaky.id);
    assert.equal((await post(url, flaky)).status, 500);
    assert.deepEqual(await post(url, flaky), { status: 200, json: { ok: true } });
    assert.deepEqual(await rows(name, flaky.id), [{ note: "retried" }]);

    // Bad signatures: 401 with the code; the handler never runs.
    const forged = delivery({ note: "forged" }, { secret: generateSecret("v1").secret });
    const bad = await post(url, forged);
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, "WEBHOOK_BAD_SIGNATURE");
    const tampered = { ...first, id: "x", body: first.body.replace("first", "firsT") };
    assert.equal((await post(url, tampered)).json.error.code, "WEBHOOK_BAD_SIGNATURE");
    const unsigned = delivery({ note: "unsigned" });
    delete unsigned.headers["webhook-signature"];
    const missing = await post(url, unsigned);
    assert.equal(missing.status, 401);
    assert.equal(missing.json.error.code, "WEBHOOK_MISSING_HEADER");
    assert.deepEqual(await rows(name, forged.id), []);
    assert.deepEqual(await rows(name, unsigned.id), []);

    if (parsed) {
      // A JSON-parsing middleware mounted before the receiver: the exact bytes still verify.
      const d = delivery({ note: "parsed first" });
      assert.deepEqual(await post(`${base}${parsed}`, d), { status: 200, json: { ok: true } });
      assert.deepEqual(await rows(`${name}-parsed`, d.id), [{ note: "parsed first" }]);
      const wrong = delivery({ note: "parsed forged" }, { secret: generateSecret("v1").secret });
      assert.equal((await post(`${base}${parsed}`, wrong)).status, 401);
    }
  });
}

test("W21 express: express.raw on the route works; a parser that dropped the bytes is refused with the fix", async () => {
  const { base } = await frameworks.express();
  const d = delivery({ note: "raw" });
  assert.deepEqual(await post(`${base}/raw/hook`, d), { status: 200, json: { ok: true } });
  assert.deepEqual(await rows("express-raw", d.id), [{ note: "raw" }]);
  const lost = delivery({ note: "lost" });
  const r = await post(`${base}/lost/hook`, lost);
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, "WEBHOOKS_INVALID_CONFIG");
  assert.match(r.json.error.message, /express\.json\(\{ verify: keepRawBody \}\)/);
  assert.deepEqual(await rows("express-lost", lost.id), []);
});

test("webhookReceiver refuses to start without a key or a handler", () => {
  for (const m of [honoReceiver, expressReceiver, nextReceiver, fastifyReceiver]) {
    assert.throws(() => m.webhookReceiver({ handler() {} }), { code: "WEBHOOKS_INVALID_CONFIG", message: /`secret`/ });
    assert.throws(() => m.webhookReceiver({ secret: SECRET }), { code: "WEBHOOKS_INVALID_CONFIG", message: /`handler`/ });
    assert.throws(() => m.webhooksInbox({}), { code: "WEBHOOKS_INVALID_CONFIG" });
  }
});
