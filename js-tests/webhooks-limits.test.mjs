// W10: what bounds one request. A receiver that never answers (or answers and then stalls)
// ends the attempt at `delivery.timeoutMs` ±10%, recorded as `timeout` and retried no sooner
// than the overload penalty; a 10 MB response is read only up to `maxResponseBytes`, so the
// receiver cannot finish sending it, what is stored stays within the limit and the worker's
// memory does not follow the response's size.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksDatabase, inTenant as inTenantOf, asSystem } from "./helpers/webhooks.mjs";

let db, pool;
const KEY = randomBytes(32).toString("base64");
const servers = [];
const TIMEOUT_MS = 1_000;
const MAX_RESPONSE = 65_536;

function webhooks(delivery = {}) {
  return betterWebhooks({
    database: sqlExecutorAdapter(pool),
    eventTypes: ["invoice.paid"],
    secretsKey: KEY,
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: [1, 1], jitter: 0, timeoutMs: TIMEOUT_MS, connectTimeoutMs: 500, ...delivery },
  });
}

async function receiver(handler) {
  const server = createServer(handler);
  // Sockets a handler leaves hanging must not keep the suite alive.
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  servers.push({ server, sockets });
  return `http://127.0.0.1:${server.address().port}/`;
}

const inTenant = (tenant, fn) => inTenantOf(pool, tenant, fn);
const system = (text, values) => asSystem(pool, text, values);

before(async () => {
  db = await webhooksDatabase("webhooks_limits", 6);
  pool = db.pool;
  await pool.query(webhooks().migrationSql(2));
});

after(async () => {
  for (const { server, sockets } of servers) {
    for (const s of sockets) s.destroy();
    server.close();
  }
  await db?.drop();
});

async function deliverOnce(w, url) {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints");
  const tenant = randomUUID();
  await w.endpoints.create({ url }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { n: 1 } }, { tx: c }));
  await w.drain({ maxMs: 10_000 });
}

/** When each request arrived and when the client hung up, as the receiver saw them. */
const seen = [];
const watch = (req) => {
  const at = { arrived: Date.now(), closed: undefined };
  seen.push(at);
  req.socket.on("close", () => (at.closed = Date.now()));
};

for (const [name, handler] of [
  ["never answers", (req) => {
    watch(req);
    req.resume();
  }],
  ["sends its headers, then a byte every 100 ms", (req, res) => {
    watch(req);
    req.resume();
    res.writeHead(200, { "content-type": "text/plain" });
    const drip = setInterval(() => res.write("."), 100);
    res.on("close", () => clearInterval(drip));
  }],
]) {
  test(`a receiver that ${name} ends the attempt at timeoutMs ±10%, recorded as timeout and retried`, async () => {
    const url = await receiver(handler);
    const w = webhooks();
    seen.length = 0;
    await deliverOnce(w, url);
    const [a] = await system("SELECT outcome, http_status, duration_ms FROM webhook_attempts");
    assert.equal(a.outcome, "timeout");
    assert.equal(a.http_status, null, "no status: the request did not complete");
    assert.ok(a.duration_ms >= TIMEOUT_MS * 0.9 && a.duration_ms <= TIMEOUT_MS * 1.1, `recorded duration ${a.duration_ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, 1);
    const held = seen[0].closed - seen[0].arrived;
    assert.ok(held >= TIMEOUT_MS * 0.85 && held <= TIMEOUT_MS * 1.1, `the client hung up ${held} ms after the request arrived`);
    const [d] = await system("SELECT status, attempt_count, last_outcome, extract(epoch FROM next_attempt_at - now())::float8 AS wait FROM webhook_deliveries");
    assert.equal(d.status, "pending", "retried");
    assert.equal(d.attempt_count, 1);
    assert.equal(d.last_outcome, "timeout");
    assert.ok(d.wait > 55 && d.wait <= 61, `a timeout waits at least the 60 s penalty, not the 1 s schedule (waits ${d.wait} s)`);
  });
}

test("a 10 MB response is read only up to maxResponseBytes: the receiver cannot finish, ≤ 64 KiB is stored, RSS grows < 20 MB", async () => {
  const TOTAL = 10 * 1024 * 1024;
  const chunk = Buffer.alloc(MAX_RESPONSE, "x");
  const sent = { bytes: 0, finished: false, closedEarly: false };
  // Streams the body with backpressure from one reused chunk, so the receiver itself holds
  // no more than a chunk and counts what the client let it write.
  const url = await receiver((req, res) => {
    req.resume();
    res.writeHead(500, { "content-type": "text/plain", "content-length": String(TOTAL) });
    const pump = () => {
      while (sent.bytes < TOTAL) {
        sent.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end(() => (sent.finished = true));
    };
    res.on("close", () => (sent.closedEarly = sent.bytes < TOTAL || !sent.finished));
    pump();
  });
  const w = webhooks({ storeResponseBody: "always", storeResponseBytes: MAX_RESPONSE, maxResponseBytes: MAX_RESPONSE });
  // Warm up (modules, the agent, the database) so what follows measures the delivery only.
  await deliverOnce(w, await receiver((req, res) => req.resume().on("end", () => res.writeHead(204).end())));
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  await deliverOnce(w, url);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const [a] = await system("SELECT outcome, http_status, octet_length(response_body) AS stored FROM webhook_attempts");
  assert.deepEqual([a.outcome, a.http_status], ["http_error", 500]);
  assert.equal(a.stored, MAX_RESPONSE, "the body read, up to the limit, is what is stored");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sent.finished, false, "the client hung up before the whole body was sent");
  assert.ok(sent.closedEarly);
  assert.ok(sent.bytes < TOTAL / 2, `the receiver wrote ${sent.bytes} bytes before the client hung up`);
  const growth = (peak - rssBefore) / 1024 / 1024;
  assert.ok(growth < 20, `RSS grew ${growth.toFixed(1)} MB`);
});
