// Interop with the reference verifiers (spec §20 W2): deliveries signed by the core with the
// engine's header assembly (`Webhooks#prepareRequests`), POSTed to a loopback receiver, verify
// with `standardwebhooks@1.1.1` and — with `headers: "svix"` — with svix's verifier; bodies
// signed by `standardwebhooks` verify with our `verifyWebhook`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { verifyWebhook, generateSecret } from "@usebetterdev/webhooks/receiver";

const COUNT = 1000;
const SECRET = generateSecret("v1").secret;
const standard = new StandardWebhook(SECRET);
const svix = new SvixWebhook(SECRET);
let server;
let url;
const received = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}/hook`;
});
after(() => new Promise((resolve) => server.close(resolve)));

/** Bodies with what trips naive verifiers: unicode, escapes, spaces, long strings. */
function body(i) {
  const payload = { i, text: "é€😀\u2028\"quoted\" \\ back", spaced: " x ", blob: randomBytes(i % 300).toString("base64"), nested: { n: i * 1.5, list: [i, null, true] } };
  const json = JSON.stringify({ type: "invoice.paid", timestamp: new Date().toISOString(), data: payload });
  return i % 3 === 0 ? json.replaceAll(",", ", ") : json;
}

/** Signs `COUNT` deliveries the way the engine does and POSTs them; returns what arrived. */
async function deliver(headersMode) {
  const webhooks = new core.Webhooks({ headers: headersMode, allowPlaintextSecrets: true }, false);
  received.length = 0;
  const sent = [];
  for (let start = 0; start < COUNT; start += 100) {
    const rows = [];
    for (let i = start; i < start + 100; i++) {
      rows.push({ endpointId: randomUUID(), messageId: randomUUID(), body: body(i), keys: [{ kind: "v1", secret: SECRET }], headers: null, contentType: null });
    }
    const { requests } = webhooks.prepareRequests(rows, Date.now());
    assert.equal(requests.length, rows.length);
    await Promise.all(
      requests.map(async (r, k) => {
        assert.equal(r.error, undefined, JSON.stringify(r.error));
        sent.push({ id: r.id, body: rows[k].body });
        const res = await fetch(url, { method: "POST", headers: r.headers, body: rows[k].body });
        assert.equal(res.status, 204);
      }),
    );
  }
  assert.equal(received.length, COUNT);
  return sent;
}

test(`W2: ${COUNT} deliveries with standard headers verify with standardwebhooks@1.1.1 and verifyWebhook`, async () => {
  const sent = await deliver("standard");
  const bodies = new Map(sent.map((s) => [s.id, s.body]));
  for (const r of received) {
    assert.equal(r.headers["svix-id"], undefined, "standard mode sends no svix-* headers");
    assert.match(r.headers["webhook-id"], /^msg_/);
    assert.equal(r.headers["content-type"], "application/json");
    const payload = standard.verify(r.body.toString("utf8"), r.headers);
    assert.deepEqual(payload, JSON.parse(bodies.get(r.headers["webhook-id"])));
    const ours = await verifyWebhook({ body: new Uint8Array(r.body), headers: r.headers }, { secret: SECRET });
    assert.equal(ours.id, r.headers["webhook-id"]);
    assert.equal(ours.body, bodies.get(ours.id));
  }
  // The reference verifier really checks: a changed byte fails it.
  const r = received[0];
  const tampered = Buffer.from(r.body);
  tampered[tampered.length - 2] ^= 1;
  assert.throws(() => standard.verify(tampered.toString("utf8"), r.headers));
});

test(`W2: ${COUNT} deliveries with headers "svix" verify with svix's Webhook.verify`, async () => {
  await deliver("svix");
  for (const r of received) {
    assert.match(r.headers["svix-id"], /^msg_/);
    assert.equal(r.headers["svix-signature"], r.headers["webhook-signature"] ?? r.headers["svix-signature"]);
    const payload = svix.verify(r.body.toString("utf8"), r.headers);
    assert.equal(typeof payload, "object");
    const ours = await verifyWebhook({ body: r.body.toString("utf8"), headers: r.headers }, { secret: SECRET });
    assert.equal(ours.id, r.headers["svix-id"]);
  }
  const r = received[0];
  assert.throws(() => svix.verify(r.body.toString("utf8"), { ...r.headers, "svix-id": "msg_other" }));
});

test(`W2: ${COUNT} bodies signed by standardwebhooks' sign verify with verifyWebhook (and a changed byte does not)`, async () => {
  const now = new Date();
  for (let i = 0; i < COUNT; i++) {
    const id = `msg_${randomBytes(12).toString("hex")}`;
    const text = body(i);
    const signature = standard.sign(id, now, text);
    const headers = { "webhook-id": id, "webhook-timestamp": String(Math.floor(now.getTime() / 1000)), "webhook-signature": signature };
    const request = new Request(url, { method: "POST", headers, body: text });
    const event = await verifyWebhook(request, { secret: SECRET, now });
    assert.equal(event.id, id);
    assert.deepEqual(event.json, JSON.parse(text));
    if (i % 100 === 0) {
      await assert.rejects(verifyWebhook({ body: text + " ", headers }, { secret: SECRET, now }), { code: "WEBHOOK_BAD_SIGNATURE" });
    }
  }
});
