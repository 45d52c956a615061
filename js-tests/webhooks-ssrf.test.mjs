// W11: the network policy end to end, under a tripwire that records every address the process
// dials and refuses any outside loopback. With the default policy every internal URL is refused
// at create or ends `destination_blocked` with no dial; a name an injected resolver points at a
// denied address is blocked at connect; redirects are not followed; what tenants can read of an
// attempt holds no address and no socket error text.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import net from "node:net";
import tls from "node:tls";
import http from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { request as undiciRequest } from "undici";
import core from "@usebetter-rs/core";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksDatabase, inTenant as inTenantOf, asSystem } from "./helpers/webhooks.mjs";
import { installTripwire } from "./helpers/tripwire.mjs";

let db, pool, wire, pgPort;
const KEY = randomBytes(32).toString("base64");
const servers = [];

const W11_URLS = [
  "http://127.0.0.1/",
  "http://[::1]/",
  "http://169.254.169.254/latest/meta-data/",
  "http://[::ffff:127.0.0.1]/",
  "http://[::ffff:7f00:1]/",
  "http://0.0.0.0/",
  "http://2130706433/",
  "http://0x7f.1/",
  "http://localhost/",
  "http://[fd00:ec2::254]/",
  "http://[64:ff9b::7f00:1]/",
  "http://[2002:7f00:1::]/",
  "http://10.0.0.1/",
  "http://192.168.1.1/",
  "http://100.64.0.1/",
];

function webhooks(network, extra = {}) {
  return betterWebhooks({
    database: sqlExecutorAdapter(pool),
    eventTypes: ["invoice.paid"],
    secretsKey: KEY,
    network: { allowHttp: true, ...network },
    // One attempt per drain: retries are due only when a test makes them due.
    delivery: { retrySchedule: [60, 60], jitter: 0 },
    ...extra,
  });
}

/** A receiver on `host`; `answer(req, res)` writes the response. */
async function receiver(host, answer = (_req, res) => res.writeHead(204).end()) {
  const got = [];
  const server = createServer((req, res) => {
    got.push(req.url);
    req.resume();
    req.on("end", () => answer(req, res));
  });
  await new Promise((r) => server.listen(0, host, r));
  servers.push(server);
  return { got, port: server.address().port };
}

/** Dials other than to PostgreSQL (the pool's own connections are loopback and expected). */
const foreignDials = () => wire.dials.filter((d) => d.port !== pgPort);
const forget = () => {
  wire.dials.length = 0;
  wire.violations.length = 0;
};
const inTenant = (tenant, fn) => inTenantOf(pool, tenant, fn);
const system = (text, values) => asSystem(pool, text, values);
const ipLike = /\b\d{1,3}(?:\.\d{1,3}){3}\b|\[?[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\]?(?=[\s,;:/)\]]|$)/i;

before(async () => {
  db = await webhooksDatabase("webhooks_ssrf", 6);
  pool = db.pool;
  pgPort = Number(new URL(process.env.DATABASE_URL).port);
  await pool.query(webhooks({}).migrationSql(2));
  wire = installTripwire();
});

after(async () => {
  wire?.uninstall();
  for (const s of servers) s.close();
  await db?.drop();
});

test("the tripwire sees and refuses every way out: net, tls, undici, node:http, and names by their resolved address", async () => {
  forget();
  const refused = (e) => e?.code === "TRIPWIRE_REFUSED";
  const failed = (socket) => new Promise((resolve) => socket.once("error", resolve));
  assert.ok(refused(await failed(net.connect(9, "192.0.2.1"))));
  assert.ok(refused(await failed(net.createConnection({ host: "198.51.100.2", port: 9 }))));
  assert.ok(refused(await failed(tls.connect({ host: "10.0.0.1", port: 443 }))));
  const viaUndici = await undiciRequest("http://203.0.113.9:9/").catch((e) => e);
  assert.ok(refused(viaUndici) || refused(viaUndici.cause), String(viaUndici));
  const viaHttp = await new Promise((resolve) => {
    const req = http.get({ host: "example.invalid", port: 9, lookup: (_h, o, cb) => (o.all ? cb(null, [{ address: "172.16.0.1", family: 4 }]) : cb(null, "172.16.0.1", 4)) });
    req.on("error", resolve);
  });
  assert.ok(refused(viaHttp), String(viaHttp));
  assert.deepEqual(
    wire.violations.map((d) => d.address),
    ["192.0.2.1", "198.51.100.2", "10.0.0.1", "203.0.113.9", "172.16.0.1"],
  );
  // Loopback passes.
  const ok = await receiver("127.0.0.1");
  const res = await undiciRequest(`http://127.0.0.1:${ok.port}/`, { method: "POST", body: "x" });
  await res.body.dump();
  assert.equal(res.statusCode, 204);
  assert.equal(wire.violations.length, 5);
});

test("default policy: every W11 URL is refused at create, or (created under a looser policy) ends destination_blocked with no dial", async () => {
  forget();
  const tenant = randomUUID();
  const strict = webhooks({});
  for (const url of W11_URLS) {
    const err = await strict.endpoints.create({ url }, { tenantId: tenant }).catch((e) => e);
    assert.equal(err?.code, "WEBHOOKS_URL_FORBIDDEN", `${url}: ${err?.code} ${err?.message}`);
  }
  // The same URLs stored under a policy that allowed them (or by an older release): the
  // delivery engine's own check is what stands between them and the network.
  const loose = webhooks({ allowNetworks: ["0.0.0.0/0", "::/0"] });
  const created = [];
  for (const url of W11_URLS) {
    if (url === "http://localhost/") continue; // refused by name whatever the policy
    const { endpoint } = await loose.endpoints.create({ url }, { tenantId: tenant });
    created.push(endpoint.id);
  }
  const { endpoint: named } = await loose.endpoints.create({ url: "https://example.com/" }, { tenantId: tenant });
  await system("UPDATE webhook_endpoints SET url = 'http://localhost/' WHERE id = $1", [core.webhookId("endpoint", named.id, false)]);
  await inTenant(tenant, (c) => strict.send({ eventType: "invoice.paid", payload: { probe: 1 } }, { tx: c }));
  forget();
  await strict.drain({ maxMs: 10_000 });
  const attempts = await system("SELECT e.url, a.outcome, a.http_status FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id ORDER BY e.url");
  assert.equal(attempts.length, W11_URLS.length);
  for (const a of attempts) assert.deepEqual([a.url, a.outcome, a.http_status], [a.url, "destination_blocked", null]);
  assert.deepEqual(foreignDials(), [], "no connection attempted");
  assert.deepEqual(wire.violations, []);
  const [d] = await system("SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending' AND last_outcome = 'destination_blocked'");
  assert.equal(d.n, W11_URLS.length, "blocked deliveries are retried (an operator may fix DNS)");
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints");
});

test("a name an injected resolver points at 127.0.0.2 is blocked at connect while allowNetworks is 127.0.0.1/32", async () => {
  forget();
  const tenant = randomUUID();
  // Both addresses really answer, so only the policy decides.
  const allowed = await receiver("127.0.0.1");
  const w = webhooks({ allowNetworks: ["127.0.0.1/32"] });
  const { endpoint } = await w.endpoints.create({ url: `http://hooks.rebind.test:${allowed.port}/` }, { tenantId: tenant });
  const denied = await receiver("127.0.0.2");
  await system("UPDATE webhook_endpoints SET url = $1 WHERE id = $2", [`http://hooks.rebind.test:${denied.port}/`, core.webhookId("endpoint", endpoint.id, false)]);
  const resolveTo = (address) => (_host, cb) => cb(null, [{ address, family: 4 }]);
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { n: 1 } }, { tx: c }));
  await w.drain({ maxMs: 5_000, lookup: resolveTo("127.0.0.2") });
  const [blocked] = await system("SELECT outcome, http_status, response_body FROM webhook_attempts");
  assert.deepEqual(blocked, { outcome: "destination_blocked", http_status: null, response_body: null });
  assert.equal(denied.got.length, 0);
  assert.deepEqual(foreignDials(), [], "127.0.0.2 never dialled");
  // Control: the same name resolved to the allowed address is delivered through that resolver.
  await system("UPDATE webhook_endpoints SET url = $1", [`http://hooks.rebind.test:${allowed.port}/`]);
  await system("UPDATE webhook_deliveries SET next_attempt_at = now()");
  await w.drain({ maxMs: 5_000, lookup: resolveTo("127.0.0.1") });
  assert.equal(allowed.got.length, 1);
  assert.deepEqual(foreignDials().map((d) => [d.host, d.address]), [["hooks.rebind.test", "127.0.0.1"]]);
  // The address actually dialled is checked, whichever comes first in the answer.
  forget();
  const mixed = (_host, cb) => cb(null, [{ address: "127.0.0.2", family: 4 }, { address: "127.0.0.1", family: 4 }]);
  await system("UPDATE webhook_endpoints SET url = $1", [`http://hooks.rebind.test:${denied.port}/`]);
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { n: 2 } }, { tx: c }));
  await w.drain({ maxMs: 5_000, lookup: mixed });
  assert.equal(denied.got.length, 0);
  assert.deepEqual(foreignDials().map((d) => d.address), ["127.0.0.1"], "only the allowed address is handed to the socket");
});

test("a 302 to another address is a failure and its Location is never requested", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints");
  forget();
  const tenant = randomUUID();
  const target = await receiver("127.0.0.2");
  const location = `http://127.0.0.2:${target.port}/`;
  const redirecting = await receiver("127.0.0.1", (_req, res) => res.writeHead(302, { location }).end("moved"));
  const w = webhooks({ allowNetworks: ["127.0.0.1/32"] });
  await w.endpoints.create({ url: `http://127.0.0.1:${redirecting.port}/hook` }, { tenantId: tenant });
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { n: 1 } }, { tx: c }));
  await w.drain({ maxMs: 5_000 });
  const [a] = await system("SELECT outcome, http_status FROM webhook_attempts");
  assert.deepEqual(a, { outcome: "http_error", http_status: 302 });
  const [d] = await system("SELECT status, last_status FROM webhook_deliveries");
  assert.deepEqual(d, { status: "pending", last_status: 302 }, "retried later, not followed");
  assert.deepEqual(redirecting.got, ["/hook"]);
  assert.equal(target.got.length, 0, "Location never requested");
  assert.deepEqual(foreignDials().map((x) => x.address), ["127.0.0.1"]);
});

test("tenant-visible attempt rows hold no IP address and no socket error text; operators read it in system context", async () => {
  await system("TRUNCATE webhook_deliveries, webhook_attempts, webhook_endpoints");
  forget();
  const tenant = randomUUID();
  const loose = webhooks({ allowNetworks: ["0.0.0.0/0", "::/0"] });
  const w = webhooks({ allowNetworks: ["127.0.0.1/32"] });
  // Blocked literals (IPv4, IPv6), blocked by resolution, a refused connection, a reset.
  const closed = await new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
  const resetting = await new Promise((resolve) => {
    const s = net.createServer((sock) => sock.destroy());
    servers.push(s);
    s.listen(0, "127.0.0.1", () => resolve(s.address().port));
  });
  for (const url of ["http://10.20.30.40/", "http://[fd00:ec2::254]/"]) await loose.endpoints.create({ url }, { tenantId: tenant });
  for (const url of [`http://internal.rebind.test:${closed}/`, `http://127.0.0.1:${closed}/`, `http://127.0.0.1:${resetting}/`]) {
    await w.endpoints.create({ url }, { tenantId: tenant });
  }
  await inTenant(tenant, (c) => w.send({ eventType: "invoice.paid", payload: { n: 1 } }, { tx: c }));
  await w.drain({ maxMs: 5_000, lookup: (_h, cb) => cb(null, [{ address: "10.9.8.7", family: 4 }]) });
  const operator = await system(
    "SELECT a.outcome, e.error FROM webhook_attempts a LEFT JOIN webhook_attempt_errors e ON e.attempt_id = a.id ORDER BY a.outcome",
  );
  assert.deepEqual(
    operator.map((r) => r.outcome),
    ["destination_blocked", "destination_blocked", "destination_blocked", "network_error", "network_error"],
  );
  assert.ok(operator.every((r) => r.error), "every failed attempt keeps its error text for the operator");
  assert.ok(operator.some((r) => /ECONNREFUSED/.test(r.error ?? "")), "the socket error");
  assert.ok(operator.some((r) => (r.error ?? "").includes("10.20.30.40")), "and the address");
  assert.deepEqual(wire.violations, []);

  const texts = operator.map((r) => r.error).filter(Boolean);
  const leaks = (rows) =>
    rows.flatMap((row) =>
      Object.entries(row).filter(([k, v]) => {
        if (v === null || typeof v !== "string" || /(^|_)(id|at|url)$/.test(k) || k === "trigger") return false;
        return ipLike.test(v) || texts.some((t) => v.includes(t)) || /ECONN|EAI_|socket|denied by/i.test(v);
      }),
    );
  const api = await w.attempts.list({}, { tenantId: tenant });
  assert.equal(api.data.length, 5);
  assert.deepEqual(leaks(api.data), []);
  assert.ok(api.data.every((r) => !("operatorError" in r) && !("operator_error" in r)));
  // Raw SQL in the tenant's scope: the attempt rows, and none of the operator-level error rows.
  const raw = await inTenant(tenant, async (c) => (await c.query("SELECT * FROM webhook_attempts")).rows);
  assert.equal(raw.length, 5);
  assert.deepEqual(leaks(raw), [], "raw SQL in the tenant's scope");
  const errors = await inTenant(tenant, async (c) => (await c.query("SELECT * FROM webhook_attempt_errors")).rows);
  assert.deepEqual(errors, [], "error texts are operator-level rows");
});
