// suite: once (scripts/test.sh runs it once; the others run on each backend)
// W19, webhooks on an edge runtime: the worker js-tests/edge/worker-webhooks.mjs, bundled under
// the `workerd` condition and served by workerd against the local PostgreSQL (node-postgres over
// cloudflare:sockets). A tenant-scoped order sends `order.created` in the request's transaction
// (a failed order sends nothing); a cron trigger's `drain()` delivers it over `fetch` to a
// receiver on loopback, where `standardwebhooks` and our verifier accept its signature. The
// webhooks engine is a WebAssembly module of its own (`@usebetter-rs/core/webhooks-binding`),
// within 250 KB gzip. (`verifyWebhook` in workerd and in Vercel's edge-runtime: edge.test.mjs.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Webhook } from "standardwebhooks";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { verifyWebhook } from "@usebetterdev/webhooks/receiver";
import { serveWorker } from "./edge/workerd.mjs";
import { asSystem, recordingReceiver } from "./helpers/webhooks.mjs";
import { tenantDatabase } from "./helpers/app.mjs";

const KEY = randomBytes(32).toString("base64");
let db, worker, receiver, secret, ACME, GLOBEX;
let received;

before(async () => {
  db = await tenantDatabase("webhooks_edge");
  ({ acme: ACME, globex: GLOBEX } = db.ids);
  receiver = await recordingReceiver();
  received = receiver.received;
  // The tables and Acme's endpoint, set up from Node as an operator would.
  const hooks = betterWebhooks({ database: sqlExecutorAdapter(db.pool), eventTypes: ["order.created"], secretsKey: KEY, network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] }, tenancy: "rls" });
  await db.pool.query(hooks.migrationSql(1));
  ({ secret } = await hooks.endpoints.create({ url: receiver.url("/hooks") }, { tenantId: ACME }));
  worker = await serveWorker(new URL("./edge/worker-webhooks.mjs", import.meta.url).pathname, {
    prefix: "usebetter-webhooks-edge-",
    bindings: { DATABASE_URL: db.url, SECRETS_KEY: KEY },
    readyPath: "/health",
  });
});

after(async () => {
  worker?.stop();
  await receiver?.close();
  await db?.close();
});

const order = (tenant, body) => worker.call("POST", "/orders", { headers: { "x-tenant-id": tenant, "content-type": "application/json" }, body: JSON.stringify(body) });

test("W19: send() in a tenant scope in workerd, drain() from a cron trigger delivers a verifiable webhook", async () => {
  const ok = await order(ACME, { n: 1 });
  assert.equal(ok.status, 200, `${ok.text}\n${worker.logs()}`);
  assert.equal(ok.json.status, "queued");
  assert.match(ok.json.id, /^msg_/);
  const failed = await order(GLOBEX, { n: 2, fail: true });
  assert.equal(failed.status, 500, "the order failed after send()");
  const stored = await asSystem(db.pool, "SELECT m.tenant_id, m.event_type FROM webhook_messages m");
  assert.deepEqual(stored, [{ tenant_id: ACME, event_type: "order.created" }], "the rolled-back order left no message");
  assert.deepEqual(await asSystem(db.pool, "SELECT name FROM projects WHERE name LIKE 'order:%'"), [{ name: "order:1" }]);

  const cron = await worker.call("GET", "/", { cron: true });
  assert.equal(cron.status, 200, `${cron.text}\n${worker.logs()}`);
  assert.equal(cron.json.outcome, "ok", `${cron.text}\n${worker.logs()}`);
  assert.equal(received.length, 1, worker.logs());
  const [r] = received;
  assert.equal(r.headers["webhook-id"], ok.json.id);
  // An independent verifier (standardwebhooks@1.1.1) and ours accept the signature.
  const payload = new Webhook(secret.slice("whsec_".length)).verify(r.body, r.headers);
  assert.deepEqual(payload.data, { n: 1 });
  assert.equal((await verifyWebhook({ headers: r.headers, body: r.body }, { secret })).id, ok.json.id);
  const [delivery] = await asSystem(db.pool, "SELECT status, attempt_count FROM webhook_deliveries");
  assert.deepEqual(delivery, { status: "succeeded", attempt_count: 1 });
  assert.equal((await worker.call("GET", "/", { cron: true })).json.outcome, "ok");
  assert.equal(received.length, 1, "a second drain sends nothing again");
});

test("W19: the webhooks engine's edge module stays within 250 KB gzip, beside the core's", () => {
  // The core's edge module (tenant, audit, receiver) and the webhooks package's own (engine and
  // receiver), each within the budget; edge.test.mjs holds the core's module to it too.
  assert.deepEqual(worker.wasm, ["usebetter_wasm_bg.wasm", "usebetter_webhooks_bg.wasm"]);
  for (const file of worker.wasm) {
    const size = gzipSync(readFileSync(join(worker.dir, file)), { level: 9 }).length;
    console.log(`${file}: ${size} B gzip`);
    assert.ok(size <= 250 * 1024, `${file}: ${size} B gzip`);
  }
});
