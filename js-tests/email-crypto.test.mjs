// The email core's provider cryptography on the backend USEBETTER_BINDING selects: SigV4 (the
// AWS documentation vector, and 1,000 random SES requests compared with aws4fetch), provider
// event verification (spec §20 E9: SendGrid, Resend, Mailgun cross-checked with Python's `hmac`,
// Postmark, SNS with certificates of a CA made here and fetched from a loopback HTTPS server),
// unsubscribe tokens, and DKIM signatures verified by Python's dkimpy (E12).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { AwsV4Signer } from "aws4fetch";
import { snsPki, TOPIC } from "./helpers/sns.mjs";
import { dkimKeys, dkimpyVerdicts } from "./helpers/dkim.mjs";
import core from "@usebetter-rs/core";

const enc = (s) => new TextEncoder().encode(s);
const codeOf = (fn) => {
  try {
    fn();
  } catch (err) {
    return err.code;
  }
  return "no error";
};

test("E13: the AWS documentation example (IAM ListUsers)", () => {
  const s = core.emailSigV4({
    method: "GET",
    host: "iam.amazonaws.com",
    path: "/",
    query: [["Action", "ListUsers"], ["Version", "2010-05-08"]],
    headers: [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]],
    region: "us-east-1",
    service: "iam",
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    nowMs: Date.UTC(2015, 7, 30, 12, 36, 0),
  });
  assert.equal(s.amzDate, "20150830T123600Z");
  assert.equal(s.canonicalRequestHash, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  assert.equal(s.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  assert.deepEqual(s.headers.map(([n]) => n), ["x-amz-date", "authorization"]);
});

test("SigV4: 1,000 random SES requests sign exactly as aws4fetch signs them", async () => {
  let seed = 20261130;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pick = (list) => list[rand(list.length)];
  const chars = "abcXYZ019-_.~ !*'()/%+=&?#é€😀\t";
  const text = (max) => Array.from({ length: rand(max) }, () => pick([...chars])).join("");
  const regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1", "cn-north-1"];
  for (let i = 0; i < 1000; i++) {
    const region = pick(regions);
    const host = `email.${region}.amazonaws.com`;
    const url = new URL(`https://${host}/v2/email/outbound-emails${rand(3) ? "" : "/" + encodeURIComponent(text(8)) + "//x"}`);
    for (let q = rand(3); q > 0; q--) url.searchParams.append(text(6) || "k", text(6));
    const headers = [["content-type", "application/json"]];
    if (rand(2)) headers.push(["X-Custom-Header", `  a ${text(5).replace(/[^ -~]/g, "b")}   b\tc `.replace(/\t/g, " ")]);
    if (rand(2)) headers.push(["x-amz-target", "SimpleEmailService_v2.SendEmail"]);
    const body = JSON.stringify({ Content: { Raw: { Data: Buffer.from(text(200)).toString("base64") } }, FromEmailAddress: `a${i}@example.com`, Note: text(30) });
    const sessionToken = rand(2) ? `tok${i}/${text(4).replace(/[^!-~]/g, "t")}==` : undefined;
    const accessKeyId = `AKID${i}`;
    const secretAccessKey = `secret/${i}+${text(6)}`;
    const nowMs = Date.UTC(2020, 0, 1) + rand(2 ** 30) * 1000;
    const datetime = new Date(nowMs).toISOString().replace(/[:-]|\.\d{3}/g, "");
    const ours = core.emailSigV4({
      method: "POST",
      host: url.host,
      path: url.pathname,
      query: [...url.searchParams],
      headers,
      body,
      region,
      service: "ses",
      accessKeyId,
      secretAccessKey,
      sessionToken,
      nowMs,
    });
    const signer = new AwsV4Signer({ url: url.toString(), method: "POST", headers: Object.fromEntries(headers), body, accessKeyId, secretAccessKey, sessionToken, service: "ses", region, datetime, allHeaders: true });
    const theirs = await signer.sign();
    assert.equal(ours.authorization, theirs.headers.get("authorization"), `request ${i}: ${url}`);
    assert.equal(ours.amzDate, theirs.headers.get("x-amz-date"));
    if (sessionToken) assert.equal(new Map(ours.headers).get("x-amz-security-token"), sessionToken);
  }
});

test("SigV4: bad requests are refused with the field named", () => {
  const base = { method: "POST", host: "email.us-east-1.amazonaws.com", path: "/v2/email/outbound-emails", region: "us-east-1", service: "ses", accessKeyId: "AKID", secretAccessKey: "s", nowMs: 0 };
  for (const [patch, field] of [
    [{ headers: [["Authorization", "x"]] }, "headers[0]"],
    [{ headers: [["x-a", "1\r\nx-b: 2"]] }, "headers[0]"],
    [{ path: "v2" }, "path"],
    [{ region: "" }, "region"],
  ]) {
    try {
      core.emailSigV4({ ...base, ...patch });
      assert.fail("accepted");
    } catch (err) {
      assert.equal(err.code, "EMAIL_INVALID_ARGUMENT");
      assert.ok(err.message.includes(`\`${field}\``), err.message);
    }
  }
});

// ---- E9: provider events --------------------------------------------------------------------

const SG_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
const SG_SIG = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=";
const SG_BODY = '{"category":"example_payload","event":"test_event","message_id":"message_id"}';

test("E9 SendGrid: the @sendgrid/eventwebhook vector verifies; one changed body byte fails", () => {
  const headers = [["X-Twilio-Email-Event-Webhook-Signature", SG_SIG], ["X-Twilio-Email-Event-Webhook-Timestamp", "1588788367"]];
  const opts = { publicKey: SG_KEY, now: 1588788367 + 30 };
  const v = core.emailVerifyEvent("sendgrid", headers, enc(SG_BODY), opts);
  assert.equal(v.provider, "sendgrid");
  assert.equal(v.timestamp, 1588788367);
  const changed = enc(SG_BODY);
  changed[10] ^= 1;
  assert.equal(codeOf(() => core.emailVerifyEvent("sendgrid", headers, changed, opts)), "EMAIL_EVENT_BAD_SIGNATURE");
  assert.equal(codeOf(() => core.emailVerifyEvent("sendgrid", headers, enc(SG_BODY), { ...opts, now: 1588788367 + 3600 })), "EMAIL_EVENT_STALE");
});

test("E9 Resend: the Standard Webhooks W1 vector under svix- headers", () => {
  const body = enc('{"test": 2432232314}');
  const headers = [["svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"], ["svix-timestamp", "1614265330"], ["svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="]];
  const opts = { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now: 1614265330 };
  assert.equal(core.emailVerifyEvent("resend", headers, body, opts).id, "msg_p5jXN8AQM9LWM0D4loKWxJek");
  assert.equal(codeOf(() => core.emailVerifyEvent("resend", headers, enc('{"test": 2432232315}'), opts)), "EMAIL_EVENT_BAD_SIGNATURE");
  assert.equal(codeOf(() => core.emailVerifyEvent("resend", headers, body, { ...opts, now: 1614265330 + 301 })), "EMAIL_EVENT_STALE");
});

test("E9 Mailgun: HMAC from a fixed key, cross-checked with Python's hmac", () => {
  const key = "key-5e3f1c2b9a8d7e6f";
  const now = 1767225600;
  for (const [timestamp, token] of [[String(now), "tok-1"], [String(now - 100), "a".repeat(50)], [String(now + 60), "é-unicode"]]) {
    const signature = createHmac("sha256", key).update(timestamp + token).digest("hex");
    const python = execFileSync("python3", ["-c", "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), (sys.argv[2]+sys.argv[3]).encode(), hashlib.sha256).hexdigest())", key, timestamp, token], { encoding: "utf8" }).trim();
    assert.equal(signature, python);
    const body = JSON.stringify({ signature: { timestamp, token, signature }, "event-data": { event: "delivered" } });
    const v = core.emailVerifyEvent("mailgun", [], enc(body), { signingKey: key, now });
    assert.equal(v.id, token);
    const forged = body.replace(signature, createHmac("sha256", key + "x").update(timestamp + token).digest("hex"));
    assert.equal(codeOf(() => core.emailVerifyEvent("mailgun", [], enc(forged), { signingKey: key, now })), "EMAIL_EVENT_BAD_SIGNATURE");
  }
  const old = String(now - 301);
  const body = JSON.stringify({ signature: { timestamp: old, token: "t", signature: createHmac("sha256", key).update(old + "t").digest("hex") } });
  assert.equal(codeOf(() => core.emailVerifyEvent("mailgun", [], enc(body), { signingKey: key, now })), "EMAIL_EVENT_STALE");
});

test("E9 Postmark: Basic credentials, wrong ones refused", () => {
  const opts = { username: "hooks", password: "pa55", now: 0 };
  const basic = (s) => [["Authorization", `Basic ${Buffer.from(s).toString("base64")}`]];
  assert.equal(core.emailVerifyEvent("postmark", basic("hooks:pa55"), enc("{}"), opts).provider, "postmark");
  for (const h of [basic("hooks:pa56"), basic("hooks:pa55x"), []]) {
    assert.equal(codeOf(() => core.emailVerifyEvent("postmark", h, enc("{}"), opts)), "EMAIL_EVENT_BAD_SIGNATURE");
  }
  assert.equal(codeOf(() => core.emailVerifyEvent("sparkpost", [], enc("{}"), opts)), "EMAIL_EVENT_UNKNOWN_PROVIDER");
});

// SNS: a CA, an SNS signing certificate it issued, and a loopback HTTPS server serving it.
let sns;
let certHost;
let pki;

before(async () => {
  sns = await snsPki();
  ({ certHost, pki } = sns);
});

after(() => {
  sns?.close();
});

const snsMessage = (version, o) => sns.message(version, o);
const fetchPem = (url) => sns.fetchPem(url);

async function verifySns(message, extra = {}) {
  const body = enc(JSON.stringify(message));
  const opts = { topicArns: [TOPIC], certHosts: [certHost], trustedCa: pki["ca.pem"], now: Math.floor(Date.now() / 1000), ...extra };
  const url = core.emailSnsCertUrl(body, opts);
  return core.emailVerifyEvent("ses", [], body, { ...opts, certificate: await fetchPem(url) });
}

const snsCode = async (message, extra) => {
  try {
    await verifySns(message, extra);
  } catch (err) {
    return err.code;
  }
  return "no error";
};

test("E9 SNS: SignatureVersion 2 and 1 verify with a certificate fetched from the allowed host", async () => {
  const m = snsMessage(2);
  const v = await verifySns(m);
  assert.deepEqual([v.provider, v.id, v.snsType, v.topicArn], ["ses", m.MessageId, "Notification", TOPIC]);
  assert.equal(await snsCode(snsMessage(1)), "EMAIL_EVENT_BAD_SIGNATURE", "version 1 needs allowSignatureV1");
  assert.equal((await verifySns(snsMessage(1), { allowSignatureV1: true })).id.length, 16);
});

test("E9 SNS: another host, an http: URL, an unknown topic, a modified Message are refused", async () => {
  assert.equal(await snsCode(snsMessage(2, { host: "127.0.0.2:1" })), "EMAIL_EVENT_CERT_REJECTED");
  assert.equal(await snsCode(snsMessage(2, { scheme: "http" })), "EMAIL_EVENT_CERT_REJECTED");
  assert.equal(await snsCode(snsMessage(2), { certHosts: undefined }), "EMAIL_EVENT_CERT_REJECTED", "loopback is not an SNS host by default");
  assert.equal(await snsCode(snsMessage(2, { topic: "arn:aws:sns:us-east-1:123456789012:other" })), "EMAIL_EVENT_TOPIC_REJECTED");
  const modified = snsMessage(2);
  modified.Message = modified.Message.replace("Permanent", "Transient");
  assert.equal(await snsCode(modified), "EMAIL_EVENT_BAD_SIGNATURE");
  // A self-signed certificate with the right name, from the allowed host: not the trusted CA's.
  assert.equal(await snsCode(snsMessage(2, { key: pki["rogue.key"], certPath: "/rogue.pem" })), "EMAIL_EVENT_CERT_REJECTED");
});

// ---- RFC 8058 tokens --------------------------------------------------------------------------

test("unsubscribe tokens: round trip, no address in clear, tampered and foreign keys refused", () => {
  const key = randomBytes(32).toString("base64");
  const fields = { tenantId: "3f2504e0-4f89-41d3-9a0c-0305e82c3301", address: "ann.lee@example.com", category: "notifications", messageId: "eml_1", issuedAt: 1767225600 };
  const token = core.emailUnsubscribeToken(key, fields, randomBytes(24));
  assert.match(token, /^u1\.[A-Za-z0-9_-]+$/);
  assert.ok(!token.includes("ann") && !token.includes("example"));
  assert.deepEqual(core.emailOpenUnsubscribeToken(key, token), { ...fields, stale: false });
  const other = randomBytes(32).toString("base64");
  assert.equal(codeOf(() => core.emailOpenUnsubscribeToken(other, token)), "EMAIL_UNSUBSCRIBE_TOKEN_INVALID");
  assert.equal(core.emailOpenUnsubscribeToken({ current: other, previous: key }, token).stale, true);
  const flip = token.slice(0, 20) + (token[20] === "A" ? "B" : "A") + token.slice(21);
  for (const bad of [flip, token.slice(0, -2), "u1.", "u2." + token.slice(3), "nope"]) {
    assert.equal(codeOf(() => core.emailOpenUnsubscribeToken(key, bad)), "EMAIL_UNSUBSCRIBE_TOKEN_INVALID", bad);
  }
  assert.deepEqual(core.emailUnsubscribeHeaders("https://app.acme.com/email/u", token, "unsubscribe@acme.com"), [
    ["List-Unsubscribe", `<https://app.acme.com/email/u/${token}>, <mailto:unsubscribe@acme.com>`],
    ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"],
  ]);
  assert.equal(codeOf(() => core.emailUnsubscribeHeaders("http://app.acme.com", token, null)), "EMAIL_INVALID_ARGUMENT");
});

// ---- E12: DKIM, verified by dkimpy ---------------------------------------------------------------

const messages = [
  [
    "From: Acme <news@acme.example>",
    "To: ann@example.org, Bob <bob@example.net>",
    "Subject: =?UTF-8?B?SGVsbG8g8J+YgA==?=",
    "Date: Mon, 30 Nov 2026 10:00:00 +0000",
    "Message-ID: <eml_1@acme.example>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "List-Unsubscribe: <https://app.acme.example/email/u/u1.abc>,",
    " <mailto:unsubscribe@acme.example>",
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    "X-Better-Email-Id: eml_1",
    "",
    "Hello  there, \t",
    "",
    "line with trailing spaces   ",
    "",
    "",
  ].join("\r\n"),
  ["From: a@acme.example", "Subject:   folded", "\tsubject\t ", "Reply-To: r@acme.example", "", ""].join("\r\n"),
  ["from: a@acme.example", "to: b@example.org", "", "no final line end"].join("\r\n"),
];

test("E12 DKIM: dkimpy verifies RSA-2048 and ed25519 signatures; h= covers the one-click headers", () => {
  const keys = dkimKeys();
  const cases = [];
  const labels = [];
  for (const [kind, privateKey, record] of keys) {
    for (const [i, message] of messages.entries()) {
      const field = core.emailDkimSign(enc(message), { domain: "acme.example", selector: "s2026", privateKey, timestamp: 1796025600 }, randomBytes(32));
      assert.ok(field.startsWith(`DKIM-Signature: v=1; a=${kind.startsWith("rsa") ? "rsa" : "ed25519"}-sha256; c=relaxed/relaxed; d=acme.example; s=s2026;`), field);
      cases.push([field + message, record], [field + message.replace("a@acme", "x@acme").replace("Hello", "Hallo").replace("no final", "No final"), record]);
      labels.push(`${kind} message ${i}`, `${kind} tampered message ${i}`);
      if (i === 0) {
        const h = /h=([^;]+);/.exec(field)[1].split(":");
        assert.deepEqual(h, ["from", "to", "subject", "date", "message-id", "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post"]);
      }
    }
  }
  const verdicts = dkimpyVerdicts(cases);
  assert.deepEqual(
    verdicts.map((v, i) => `${labels[i]}: ${v}`),
    labels.map((l) => `${l}: ${!l.includes("tampered")}`),
  );
  assert.equal(codeOf(() => core.emailDkimSign(enc("To: a@b\r\n\r\n"), { domain: "acme.example", selector: "s", privateKey: keys[2][1] }, randomBytes(32))), "EMAIL_INVALID_ARGUMENT");
});
