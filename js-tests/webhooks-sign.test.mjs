// Signing and verification vectors (spec §20 W1) and native/wasm parity of the webhooks decision
// tables (W20): the same inputs give the same signatures, verdicts, retry steps and address
// classes on both backends, and the values the spec states. The package's `verifyWebhook` runs
// on the backend USEBETTER_BINDING selects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, createPrivateKey, sign as edSign } from "node:crypto";
import { loadBackend, sameOnBoth } from "./helpers/backends.mjs";
import { verifyWebhook, signWebhook, generateSecret, WebhookVerificationError } from "@usebetterdev/webhooks/receiver";

const native = loadBackend("native");
const wasm = loadBackend("wasm");

const same = sameOnBoth(native, wasm, assert.deepEqual);

const V1 = { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: '{"test": 2432232314}' };
const V1_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const V2 = { secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", timestamp: 1649367553, body: '{"email":"test@example.com","username":"test_user"}' };
const V2_SIG = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
const SK32 = "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTE=";
const SK64 = "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTHitBmOOQKefib9yJgFpE9JlMD5j9TCqAPqGDE6WUXbyA==";
const PK = "whpk_4rQZjjkCnn4m/ciYBaRPSZTA+Y/UwqgD6hgxOllF28g=";
const V1A_SIG = "v1a,wY2SZc3TRkb1YQ3GVtlawNyAeN6SEYiztr+FExZJzpEd7BY8kO2olVTahf5NW2nn86HK/3ZM9G2VRPMiA51jDA==";

const b64 = (s) => Buffer.from(s.slice(s.indexOf("_") + 1), "base64");

test("W1 vectors: both backends and signWebhook give exactly the spec's signatures", () => {
  const vectors = [
    [V1, V1_SIG],
    [V2, V2_SIG],
    [{ ...V1, secret: SK32 }, V1A_SIG],
    [{ ...V1, secret: SK64 }, V1A_SIG],
  ];
  for (const [input, expected] of vectors) {
    assert.equal(same(input.secret, (b) => b.webhookSign(input)).ok, expected, input.secret);
    assert.equal(signWebhook(input), expected);
    assert.equal(signWebhook({ ...input, timestamp: new Date(input.timestamp * 1000) }), expected);
  }
  // The same values from Node's own crypto: HMAC-SHA256 and ed25519 over `id.timestamp.body`.
  for (const [v, sig] of [[V1, V1_SIG], [V2, V2_SIG]]) {
    const mac = createHmac("sha256", b64(v.secret)).update(`${v.id}.${v.timestamp}.${v.body}`).digest("base64");
    assert.equal(`v1,${mac}`, sig);
  }
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), b64(SK32)]);
  const ed = edSign(null, Buffer.from(`${V1.id}.${V1.timestamp}.${V1.body}`), createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }));
  assert.equal(`v1a,${ed.toString("base64")}`, V1A_SIG);
  assert.deepEqual(b64(SK64).subarray(32), b64(PK), "the 64-byte whsk_ ends with the public key");
});

test("generateSecret: v1 is 32 random bytes; v1a from a seed gives the 64-byte whsk_ and its whpk_", () => {
  const seeded = same("v1a seed", (b) => b.webhookGenerateSecret("v1a", new Uint8Array(b64(SK32))));
  assert.deepEqual(seeded.ok, { secret: SK64, publicKey: PK });
  const v1 = generateSecret("v1");
  assert.match(v1.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(v1.publicKey, undefined);
  assert.notEqual(generateSecret("v1").secret, v1.secret);
  const v1a = generateSecret("v1a");
  assert.equal(b64(v1a.secret).length, 64);
  assert.deepEqual(b64(v1a.secret).subarray(32), b64(v1a.publicKey));
  const sig = signWebhook({ ...V1, secret: v1a.secret });
  assert.match(sig, /^v1a,/);
  assert.equal(same("short v1", (b) => b.webhookGenerateSecret("v1", new Uint8Array(16))).code, "WEBHOOKS_INVALID_ARGUMENT");
  assert.equal(same("long v1a", (b) => b.webhookGenerateSecret("v1a", new Uint8Array(64))).code, "WEBHOOKS_INVALID_ARGUMENT");
});

const headers = (v, signature, prefix = "webhook") => ({
  [`${prefix}-id`]: v.id,
  [`${prefix}-timestamp`]: String(v.timestamp),
  [`${prefix}-signature`]: signature,
});
const without = (h, name) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== name));
const flip = (s) => s.slice(0, -2) + (s.at(-2) === "1" ? "2" : "1") + s.at(-1);

// [label, headers, body, options (now in Unix seconds), expected: "ok" or a code]
const cases = [
  ["valid v1", headers(V1, V1_SIG), V1.body, { secret: V1.secret }, "ok"],
  ["valid v1 (second vector)", headers(V2, V2_SIG), V2.body, { secret: V2.secret }, "ok", V2.timestamp],
  ["valid v1a", headers(V1, V1A_SIG), V1.body, { publicKey: PK }, "ok"],
  ["svix-* headers", headers(V1, V1_SIG, "svix"), V1.body, { secret: V1.secret }, "ok"],
  ["header names in any case", { "Webhook-Id": V1.id, "WEBHOOK-TIMESTAMP": String(V1.timestamp), "webhook-Signature": V1_SIG }, V1.body, { secret: V1.secret }, "ok"],
  ["missing webhook-id", without(headers(V1, V1_SIG), "webhook-id"), V1.body, { secret: V1.secret }, "WEBHOOK_MISSING_HEADER"],
  ["missing webhook-timestamp", without(headers(V1, V1_SIG), "webhook-timestamp"), V1.body, { secret: V1.secret }, "WEBHOOK_MISSING_HEADER"],
  ["missing webhook-signature", without(headers(V1, V1_SIG), "webhook-signature"), V1.body, { secret: V1.secret }, "WEBHOOK_MISSING_HEADER"],
  ["300 s old", headers(V1, V1_SIG), V1.body, { secret: V1.secret }, "ok", V1.timestamp + 300],
  ["301 s old", headers(V1, V1_SIG), V1.body, { secret: V1.secret }, "WEBHOOK_TIMESTAMP_TOO_OLD", V1.timestamp + 301],
  ["300 s ahead", headers(V1, V1_SIG), V1.body, { secret: V1.secret }, "ok", V1.timestamp - 300],
  ["301 s ahead", headers(V1, V1_SIG), V1.body, { secret: V1.secret }, "WEBHOOK_TIMESTAMP_TOO_NEW", V1.timestamp - 301],
  ["toleranceSec 10, 11 s old", headers(V1, V1_SIG), V1.body, { secret: V1.secret, toleranceSec: 10 }, "WEBHOOK_TIMESTAMP_TOO_OLD", V1.timestamp + 11],
  ["timestamp not an integer", { ...headers(V1, V1_SIG), "webhook-timestamp": "1614265330.5" }, V1.body, { secret: V1.secret }, "WEBHOOK_BAD_TIMESTAMP"],
  ["v1, with an empty signature", headers(V1, "v1,"), V1.body, { secret: V1.secret }, "WEBHOOK_BAD_SIGNATURE"],
  ["body with one byte changed", headers(V1, V1_SIG), V1.body.replace("2432232314", "2432232315"), { secret: V1.secret }, "WEBHOOK_BAD_SIGNATURE"],
  ["signature with one character changed", headers(V1, flip(V1_SIG)), V1.body, { secret: V1.secret }, "WEBHOOK_BAD_SIGNATURE"],
  ["another key", headers(V1, V1_SIG), V1.body, { secret: V2.secret }, "WEBHOOK_BAD_SIGNATURE"],
  ["v1a under another public key", headers(V1, V1A_SIG), V1.body, { publicKey: native.webhookGenerateSecret("v1a", new Uint8Array(32).fill(7)).publicKey }, "WEBHOOK_BAD_SIGNATURE"],
  ["v1 signature, only a public key", headers(V1, V1_SIG), V1.body, { publicKey: PK }, "WEBHOOK_BAD_SIGNATURE"],
  ["v1,<bad> v2,<x> v1,<good>", headers(V1, `v1,${Buffer.alloc(32).toString("base64")} v2,abc ${V1_SIG}`), V1.body, { secret: V1.secret }, "ok"],
  ["only unknown schemes", headers(V1, "v2,abc v9,def"), V1.body, { secret: V1.secret }, "WEBHOOK_BAD_SIGNATURE"],
  ["keys: the right one second", headers(V1, `${V1_SIG} ${V1A_SIG}`), V1.body, { keys: [V2.secret, PK] }, "ok"],
  ["unparsable key", headers(V1, V1_SIG), V1.body, { secret: "whsec_!!!" }, "WEBHOOK_INVALID_KEY"],
];

test("W1 verification table: the same verdicts on both backends, as the spec lists", () => {
  for (const [label, h, body, opts, expected, now = V1.timestamp] of cases) {
    const r = same(label, (b) => b.webhookVerify(Object.entries(h), new TextEncoder().encode(body), { ...opts, now }));
    if (expected === "ok") assert.deepEqual(r.ok, { id: h["webhook-id"] ?? h["svix-id"] ?? V1.id, timestamp: Number(Object.values(h)[1]) }, label);
    else assert.equal(r.code, expected, `${label}: ${r.message}`);
  }
  const missing = same("names the header", (b) => b.webhookVerify([["webhook-id", "x"]], new Uint8Array(), { secret: V1.secret, now: 0 }));
  assert.match(missing.message, /`webhook-timestamp`/);
});

test("verifyWebhook: the same table through the package, from a Request, Headers and a record", async () => {
  for (const [label, h, body, opts, expected, now = V1.timestamp] of cases) {
    const options = { ...opts, now: new Date(now * 1000) };
    const inputs = [
      { body, headers: h },
      { body: new TextEncoder().encode(body), headers: new Headers(h) },
      new Request("http://127.0.0.1/hook", { method: "POST", body, headers: h }),
    ];
    for (const input of inputs) {
      if (expected === "ok") {
        const event = await verifyWebhook(input, options);
        assert.equal(event.timestamp.getTime() / 1000, Number(Object.values(h)[1]), label);
        assert.equal(event.body, body);
        assert.deepEqual(event.json, JSON.parse(body));
      } else {
        await assert.rejects(verifyWebhook(input, options), (err) => {
          assert.ok(err instanceof WebhookVerificationError, label);
          assert.equal(err.code, expected, label);
          return true;
        });
      }
    }
  }
});

test("verifyWebhook never parses before verifying: a bad signature over non-JSON is a signature error", async () => {
  const h = headers(V1, V1_SIG);
  await assert.rejects(verifyWebhook({ body: "{not json", headers: h }, { secret: V1.secret, now: new Date(V1.timestamp * 1000) }), { code: "WEBHOOK_BAD_SIGNATURE" });
  const sig = signWebhook({ ...V1, body: "plain text" });
  const event = await verifyWebhook({ body: "plain text", headers: headers(V1, sig) }, { secret: V1.secret, now: new Date(V1.timestamp * 1000) });
  assert.equal(event.json, undefined, "a verified non-JSON body has no json");
  assert.equal(event.body, "plain text");
  await assert.rejects(verifyWebhook({ body: 42, headers: {} }, { secret: V1.secret }), { code: "WEBHOOKS_INVALID_ARGUMENT", message: /`input.body`/ });
});

// W20: the retry decision (W8's table) with `u` fixed.
const STANDARD = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400];
const NOW = Date.UTC(2026, 0, 1);

test("W20 nextAttempt: the standard schedule at u = -1, 0, 1 and the W8 cases, identical on both backends", () => {
  const step = (attempts, outcome, retryAfter, u) =>
    same(`${attempts} ${outcome} ${retryAfter} ${u}`, (b) => new b.Webhooks({}, false).nextAttempt(attempts, outcome, retryAfter, NOW, u));
  for (const u of [-1, 0, 1]) {
    STANDARD.forEach((base, i) => {
      const delayMs = Math.round(base * (1 + 0.2 * u) * 1000);
      assert.deepEqual(step(i + 1, "http_error", null, u).ok, { kind: "retry", atMs: NOW + delayMs, delayMs }, `attempt ${i + 1}, u ${u}`);
    });
    assert.deepEqual(step(10, "http_error", null, u).ok, { kind: "exhausted" }, "exhausted after attempt 10");
    assert.deepEqual(step(3, "ok", null, u).ok, { kind: "succeeded" });
    assert.deepEqual(step(1, "gone", null, u).ok, { kind: "exhausted" }, "410: one attempt");
  }
  // 429 with Retry-After: 120 → at least 120 s; a timeout or 503 → at least 60 s.
  assert.deepEqual(step(1, "throttled", 120, 1).ok, { kind: "retry", atMs: NOW + 120_000, delayMs: 120_000 });
  assert.deepEqual(step(1, "timeout", null, 1).ok, { kind: "retry", atMs: NOW + 60_000, delayMs: 60_000 });
  assert.deepEqual(step(1, "throttled", null, -1).ok, { kind: "retry", atMs: NOW + 60_000, delayMs: 60_000 });
  assert.equal(step(4, "timeout", null, 0).ok.delayMs, 7_200_000, "the schedule wins when it is longer");
  assert.equal(step(1, "http_error", 200_000, 0).ok.delayMs, 86_400_000, "Retry-After capped at 24 h");
  assert.equal(step(1, "http_error", null, 1.5).code, "WEBHOOKS_INVALID_ARGUMENT");
  assert.equal(step(0, "http_error", null, 0).code, "WEBHOOKS_INVALID_ARGUMENT");
  // The classification feeding it.
  const classes = [[200, null, "ok"], [204, null, "ok"], [410, null, "gone"], [429, null, "throttled"], [502, null, "throttled"], [503, null, "throttled"], [504, null, "throttled"], [302, null, "http_error"], [400, null, "http_error"], [500, null, "http_error"], [null, "timeout", "timeout"], [null, "connect_timeout", "timeout"], [null, "refused", "network_error"], [null, "dns", "network_error"], [null, "blocked", "destination_blocked"], [null, "worker_shutdown", "worker_shutdown"]];
  for (const [status, failure, expected] of classes) {
    assert.equal(same(`${status} ${failure}`, (b) => b.webhookClassifyOutcome(status, failure)).ok, expected, `${status} ${failure}`);
  }
  assert.equal(same("Retry-After 120", (b) => b.webhookRetryAfter("120", NOW)).ok, 120);
  assert.equal(same("Retry-After date", (b) => b.webhookRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).ok, 90);
});

// W20/W11: every range of spec §10.2 at both ends, and the addresses just outside them.
const V4 = [
  ["0.0.0.0", "0.255.255.255", "0.0.0.0/8"], ["10.0.0.0", "10.255.255.255", "10.0.0.0/8"],
  ["100.64.0.0", "100.127.255.255", "100.64.0.0/10"], ["127.0.0.0", "127.255.255.255", "127.0.0.0/8"],
  ["169.254.0.0", "169.254.255.255", "169.254.0.0/16"], ["172.16.0.0", "172.31.255.255", "172.16.0.0/12"],
  ["192.0.0.0", "192.0.0.255", "192.0.0.0/24"], ["192.0.2.0", "192.0.2.255", "192.0.2.0/24"],
  ["192.88.99.0", "192.88.99.255", "192.88.99.0/24"], ["192.168.0.0", "192.168.255.255", "192.168.0.0/16"],
  ["198.18.0.0", "198.19.255.255", "198.18.0.0/15"], ["198.51.100.0", "198.51.100.255", "198.51.100.0/24"],
  ["203.0.113.0", "203.0.113.255", "203.0.113.0/24"], ["224.0.0.0", "239.255.255.255", "224.0.0.0/4"],
  ["240.0.0.0", "255.255.255.255", "240.0.0.0/4"],
];
const V6 = [
  ["::", "::", "::/128"], ["::1", "::1", "::1/128"],
  ["64:ff9b::", "64:ff9b::ffff:ffff", "64:ff9b::/96"], ["64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::/48"],
  ["100::", "100::ffff:ffff:ffff:ffff", "100::/64"], ["2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/32"],
  ["2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"], ["2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2002::/16"],
  ["3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20"], ["5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5f00::/16"],
  ["fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7"], ["fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10"],
  ["ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8"],
];
const DENIED_MORE = [
  ["fd00:ec2::254", "fc00::/7"], ["169.254.169.254", "169.254.0.0/16"],
  // IPv4-mapped and IPv4-compatible addresses are judged as the IPv4 address they carry.
  ["::ffff:127.0.0.1", "127.0.0.0/8"], ["::ffff:0:0", "0.0.0.0/8"], ["::ffff:ffff:ffff", "240.0.0.0/4"], ["::ffff:a9fe:a9fe", "169.254.0.0/16"],
  ["::127.0.0.1", "127.0.0.0/8"], ["::0.0.0.2", "0.0.0.0/8"], ["::10.1.2.3", "10.0.0.0/8"],
];
const ALLOWED = [
  "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.0",
  "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.0.1.0", "192.0.3.0", "192.88.98.255", "192.88.100.0",
  "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0", "198.51.99.255", "198.51.101.0", "203.0.112.255",
  "203.0.114.0", "223.255.255.255", "::2:0:0:0", "::ffff:8.8.8.8", "::8.8.8.8", "64:ff9b::1:0:0", "64:ff9b:2::",
  "100::1:0:0:0:0", "2001:1::", "2001:4860:4860::8888", "2001:db9::", "2003::1", "3fff:1000::", "5eff:ffff::", "5f01::",
  "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::", "fec0::", "2606:4700:4700::1111",
];

test("W20 webhookClassifyAddress: both ends of every §10.2 range denied, neighbours allowed, identical on both backends", () => {
  const table = [
    ...V4.flatMap(([first, last, range]) => [[first, range], [last, range]]),
    ...V6.flatMap(([first, last, range]) => [[first, range], [last, range]]),
    ...DENIED_MORE,
    ...ALLOWED.map((a) => [a, null]),
  ];
  assert.ok(table.length >= 60, String(table.length));
  for (const [address, range] of table) {
    const r = same(address, (b) => b.webhookClassifyAddress(address));
    assert.equal(r.code, undefined, `${address}: ${r.message}`);
    assert.equal(r.ok?.range ?? null, range, address);
    if (range !== null) assert.equal(typeof r.ok.reason, "string");
  }
  // The same through a configured policy's checkAddresses (what the dispatcher calls).
  const verdicts = same("checkAddresses", (b) => new b.Webhooks({}, false).checkAddresses(table.map(([a]) => a)));
  assert.deepEqual(verdicts.ok.map((v) => v.allowed), table.map(([, range]) => range === null));
  assert.equal(same("not an address", (b) => b.webhookClassifyAddress("localhost")).code, "WEBHOOKS_INVALID_ARGUMENT");
});
