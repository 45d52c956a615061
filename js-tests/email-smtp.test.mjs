// suite: once (native only: the SMTP transport is the addon's; the wasm build has no sockets)
// The native SMTP client against `smtp-server` sinks on loopback: exact bytes, STARTTLS and
// implicit TLS with a CA made here with openssl, AUTH, per-recipient refusals, the outcomes of
// 4xx/5xx replies, a connection lost after the message, stalls and their timeouts, the pool, and
// DKIM signing (E12) verified by dkimpy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { smtpSink, smtpReply as fail } from "./helpers/smtp-sink.mjs";
import { dkimKeys, dkimpyVerdicts } from "./helpers/dkim.mjs";
import { smtp } from "@usebetterdev/email/smtp";
import core from "@usebetter-rs/core";

const send = core.emailSmtpSend;
const certs = mkdtempSync(join(tmpdir(), "email-smtp-"));
const sinks = [];
let ca;
let key;
let cert;

function openssl(...args) {
  execFileSync("openssl", args, { cwd: certs, stdio: "pipe" });
}

before(() => {
  assert.equal(core.backend, "native");
  assert.equal(typeof send, "function");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=usebetter smtp ca",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  writeFileSync(join(certs, "server.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext");
  [ca, key, cert] = ["ca.crt", "server.key", "server.crt"].map((f) => readFileSync(join(certs, f), "utf8"));
});

after(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  rmSync(certs, { recursive: true, force: true });
});


async function sink(o) {
  const s = await smtpSink(o);
  sinks.push(s);
  return s;
}

const options = (s, extra = {}) => ({ host: "127.0.0.1", port: s.port, secure: "none", timeoutMs: 5000, connectTimeoutMs: 5000, ...extra });
const envelope = (...to) => ({ from: "sender@example.com", to: to.length ? to : ["rcpt@example.com"] });
const mime = (subject = "Hello") =>
  Buffer.from(
    `From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n` +
      `Grüße\r\n.a line that starts with a dot\r\n..and two\r\n.\r\n\r\nend\r\n`,
  );

test("plain loopback delivery: the sink receives exactly the bytes given", async () => {
  const s = await sink();
  const message = mime();
  const r = await send(options(s), envelope("a@example.com", "b@example.org"), message);
  assert.equal(r.outcome, "sent", JSON.stringify(r));
  assert.equal(r.stopped, null);
  assert.equal(r.data.code, 250);
  assert.match(r.data.text, /queued/);
  assert.deepEqual(r.recipients.map((x) => [x.address, x.accepted, x.code, x.outcome]), [
    ["a@example.com", true, 250, "sent"],
    ["b@example.org", true, 250, "sent"],
  ]);
  assert.equal(s.state.messages.length, 1);
  const [m] = s.state.messages;
  assert.deepEqual([m.from, m.to], ["sender@example.com", ["a@example.com", "b@example.org"]]);
  assert.ok(m.raw.equals(message), `received ${JSON.stringify(m.raw.toString())}`);
  assert.equal(m.secure, false);
});

test("STARTTLS, trusted through the `ca` option; refused without it; required when asked", async () => {
  const s = await sink({ key, cert });
  const message = mime("starttls");
  const r = await send(options(s, { host: "localhost", secure: "starttls", ca }), envelope(), message);
  assert.equal(r.outcome, "sent", JSON.stringify(r));
  assert.equal(s.state.messages.length, 1);
  assert.equal(s.state.messages[0].secure, true);
  assert.ok(s.state.messages[0].raw.equals(message));

  const untrusted = await send(options(s, { host: "localhost", secure: "starttls" }), envelope(), message);
  assert.equal(untrusted.outcome, "retryable");
  assert.deepEqual([untrusted.stopped.stage, untrusted.stopped.failure], ["starttls", "tls"]);
  assert.equal(untrusted.recipients[0].outcome, "retryable");
  assert.equal(s.state.errors[0]?.code, "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");

  const hidden = await sink({ key, cert, hideSTARTTLS: true });
  const plain = await send(options(hidden, { host: "localhost", secure: "starttls", ca }), envelope(), message);
  assert.equal(plain.outcome, "retryable");
  assert.deepEqual([plain.stopped.stage, plain.stopped.failure], ["starttls", "unsupported"]);
  assert.match(plain.stopped.text, /does not offer STARTTLS/);
  assert.equal(hidden.state.messages.length, 0);
  assert.equal(s.state.messages.length, 1);
});

test("implicit TLS, trusted through the `ca` option; a wrong name is refused", async () => {
  const s = await sink({ key, cert, secure: true });
  const message = mime("implicit tls");
  const r = await send(options(s, { host: "localhost", secure: "tls", ca }), envelope(), message);
  assert.equal(r.outcome, "sent", JSON.stringify(r));
  assert.equal(s.state.messages[0].secure, true);
  assert.ok(s.state.messages[0].raw.equals(message));
  // The certificate names localhost only.
  const wrongName = await send(options(s, { secure: "tls", ca }), envelope(), message);
  assert.equal(wrongName.outcome, "retryable");
  assert.deepEqual([wrongName.stopped.stage, wrongName.stopped.failure], ["connect", "tls"]);
  assert.match(wrongName.stopped.text, /certificate/i);
  assert.equal(s.state.messages.length, 1);
});

test("AUTH PLAIN and LOGIN succeed; a 535 is auth_failed and nothing is sent", async () => {
  const s = await sink({
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: true,
    onAuth(auth, session, cb) {
      s.state.auth.push([auth.method, auth.username]);
      if (auth.username === "user" && auth.password === "secret") cb(null, { user: auth.username });
      else cb(fail(535, "5.7.8 Authentication credentials invalid"));
    },
  });
  const ok = await send(options(s, { auth: { user: "user", pass: "secret" } }), envelope(), mime("auth"));
  assert.equal(ok.outcome, "sent", JSON.stringify(ok));
  const login = await send(options(s, { auth: { user: "user", pass: "secret", mechanism: "login" } }), envelope(), mime("login"));
  assert.equal(login.outcome, "sent", JSON.stringify(login));
  assert.deepEqual(s.state.auth, [["PLAIN", "user"], ["LOGIN", "user"]]);
  assert.deepEqual(s.state.messages.map((m) => m.user), ["user", "user"]);

  const bad = await send(options(s, { auth: { user: "user", pass: "wrong" } }), envelope(), mime("bad"));
  assert.equal(bad.outcome, "auth_failed");
  assert.deepEqual([bad.stopped.stage, bad.stopped.code, bad.stopped.enhancedCode], ["auth", 535, "5.7.8"]);
  assert.equal(bad.recipients[0].outcome, "auth_failed");
  assert.equal(s.state.messages.length, 2);
});

test("a recipient refused with 550 5.1.1 is reported alone while the others get the message", async () => {
  const s = await sink({ rcpt: (a, cb) => (a.startsWith("nobody") ? cb(fail(550, "5.1.1 No such user")) : cb()) });
  const r = await send(options(s), envelope("a@example.com", "nobody@example.com", "b@example.com"), mime("partial"));
  assert.equal(r.outcome, "sent", JSON.stringify(r));
  assert.deepEqual(r.recipients.map((x) => [x.address, x.accepted, x.code, x.enhancedCode, x.outcome]), [
    ["a@example.com", true, 250, null, "sent"],
    ["nobody@example.com", false, 550, "5.1.1", "rejected_recipient"],
    ["b@example.com", true, 250, null, "sent"],
  ]);
  assert.equal(r.recipients[1].text, "5.1.1 No such user");
  assert.deepEqual(s.state.messages.map((m) => m.to), [["a@example.com", "b@example.com"]]);

  // No recipient accepted: DATA is skipped and the connection stays usable.
  const none = await send(options(s), envelope("nobody@example.com", "nobody2@example.com"), mime("none"));
  assert.equal(none.outcome, "rejected_recipient");
  assert.equal(none.data, null);
  assert.equal(s.state.messages.length, 1);
  const again = await send(options(s), envelope(), mime("again"));
  assert.equal(again.outcome, "sent");
  assert.equal(s.state.connections, 1);
});

test("4xx replies are retryable (or throttled), 5xx on MAIL or after the message permanent", async () => {
  const cases = [
    [{ mail: (a, cb) => cb(fail(451, "4.3.0 Try again later")) }, "retryable", "mail", 451],
    [{ mail: (a, cb) => cb(fail(421, "4.4.2 Closing connection")) }, "retryable", "mail", 421],
    [{ mail: (a, cb) => cb(fail(454, "Throttling failure: Maximum sending rate exceeded.")) }, "throttled", "mail", 454],
    [{ mail: (a, cb) => cb(fail(553, "5.7.1 Sender address rejected")) }, "rejected_permanent", "mail", 553],
    [{ rcpt: (a, cb) => cb(fail(451, "4.7.1 Greylisted")) }, "retryable", null, null],
    [{ data: (raw, s, cb) => cb(fail(451, "4.3.0 Queue unavailable")) }, "retryable", "message", 451],
    [{ data: (raw, s, cb) => cb(fail(421, "4.4.2 Shutting down")) }, "retryable", "message", 421],
    [{ data: (raw, s, cb) => cb(fail(554, "5.7.1 Message rejected as spam")) }, "rejected_permanent", "message", 554],
  ];
  for (const [handlers, outcome, stage, code] of cases) {
    const s = await sink(handlers);
    const r = await send(options(s), envelope(), mime("codes"));
    const label = `${outcome} ${stage} ${code}: ${JSON.stringify(r)}`;
    assert.equal(r.outcome, outcome, label);
    assert.equal(r.recipients[0].outcome, outcome, label);
    assert.equal(r.stopped?.stage ?? null, stage, label);
    assert.equal(r.stopped?.code ?? null, code, label);
    if (stage === "message") assert.equal(r.data.code, code, label);
  }
});

test("connection refused before anything is sent: retryable", async () => {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const r = await send({ host: "127.0.0.1", port, secure: "none" }, envelope(), mime());
  assert.equal(r.outcome, "retryable");
  assert.deepEqual([r.stopped.stage, r.stopped.failure], ["connect", "connection"]);
});

test("the connection dropped after the message was sent, before its reply: ambiguous", async () => {
  const s = await sink({
    data(raw, session) {
      for (const c of s.server.connections) if (c.id === session.id) c._socket.destroy();
    },
  });
  const message = mime("dropped");
  const r = await send(options(s), envelope(), message);
  assert.equal(r.outcome, "ambiguous", JSON.stringify(r));
  assert.deepEqual([r.stopped.stage, r.stopped.failure], ["message", "connection"]);
  assert.equal(r.recipients[0].outcome, "ambiguous");
  // The server did get the whole message: this is the duplicate an ambiguous retry may cause.
  assert.ok(s.state.messages[0].raw.equals(message));
});

/** Runs `fn` and returns its result with the elapsed milliseconds. */
async function timed(fn) {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

test("a stalled server times out within the configured time (±20%)", async () => {
  // No reply to the message: it may have been accepted.
  const afterData = await sink({ data() {} });
  const [r1, ms1] = await timed(() => send(options(afterData, { timeoutMs: 1000 }), envelope(), mime("stall")));
  assert.equal(r1.outcome, "ambiguous", JSON.stringify(r1));
  assert.deepEqual([r1.stopped.stage, r1.stopped.failure], ["message", "timeout"]);
  assert.ok(ms1 >= 800 && ms1 <= 1200, `${ms1} ms`);

  // No reply to RCPT: the message was never sent.
  const atRcpt = await sink({ rcpt() {} });
  const [r2, ms2] = await timed(() => send(options(atRcpt, { timeoutMs: 1000 }), envelope(), mime("stall")));
  assert.equal(r2.outcome, "retryable", JSON.stringify(r2));
  assert.deepEqual([r2.stopped.stage, r2.stopped.failure], ["rcpt", "timeout"]);
  assert.ok(ms2 >= 800 && ms2 <= 1200, `${ms2} ms`);

  // A server that accepts the connection but never greets: the connect timeout.
  const silent = createServer(() => {});
  const held = [];
  silent.on("connection", (socket) => held.push(socket));
  await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
  try {
    const port = silent.address().port;
    const [r3, ms3] = await timed(() => send({ host: "127.0.0.1", port, secure: "none", connectTimeoutMs: 1000 }, envelope(), mime()));
    assert.equal(r3.outcome, "retryable", JSON.stringify(r3));
    assert.deepEqual([r3.stopped.stage, r3.stopped.failure], ["connect", "timeout"]);
    assert.ok(ms3 >= 800 && ms3 <= 1200, `${ms3} ms`);
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test("the pool: N sends over at most pool.max connections; dead connections are replaced", async () => {
  const s = await sink();
  const o = options(s, { pool: { max: 2 } });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => send(o, envelope(), mime(`pooled ${i}`))));
  assert.deepEqual(new Set(results.map((r) => r.outcome)), new Set(["sent"]));
  assert.equal(s.state.messages.length, 12);
  assert.ok(s.state.connections >= 1 && s.state.connections <= 2, `${s.state.connections} connections`);
  const before = s.state.connections;
  for (let i = 0; i < 5; i++) assert.equal((await send(o, envelope(), mime(`sequential ${i}`))).outcome, "sent");
  assert.equal(s.state.connections, before);

  // The server drops every idle connection: the next send notices, and goes out on a new one.
  s.dropAll();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const r = await send(o, envelope(), mime("after drop"));
  assert.equal(r.outcome, "sent", JSON.stringify(r));
  assert.equal(s.state.connections, before + 1);
  assert.equal(s.state.messages.length, 18);
});

test("bad arguments throw before any connection, naming the field", () => {
  const ok = { host: "127.0.0.1", port: 25, secure: "none" };
  const cases = [
    [() => send({ ...ok, host: "smtp.example.com" }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.secure"],
    [() => send({ ...ok, host: "10.0.0.1" }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.secure"],
    [() => send({ ...ok, secure: "ssl" }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.secure"],
    [() => send({ ...ok, port: "25" }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.port"],
    [() => send({ ...ok, timeoutMs: 0 }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.timeoutMs"],
    [() => send({ ...ok, pool: { max: 0 } }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.pool.max"],
    [() => send({ ...ok, ca: "not a certificate" }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.ca"],
    [() => send({ ...ok, auth: { user: "u" } }, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options.auth"],
    [() => send(null, envelope(), mime()), "EMAIL_INVALID_ARGUMENT", "options"],
    [() => send(ok, { from: "a@example.com", to: [] }, mime()), "EMAIL_INVALID_ARGUMENT", "envelope.to"],
    [() => send(ok, envelope("a@example.com", "b@example.com>\r\nDATA"), mime()), "EMAIL_INVALID_ADDRESS", "envelope.to[1]"],
    [() => send(ok, { from: "nobody", to: ["a@example.com"] }, mime()), "EMAIL_INVALID_ADDRESS", "envelope.from"],
    [() => send(ok, envelope(), "Subject: x\r\n\r\nhi\r\n"), "EMAIL_INVALID_ARGUMENT", "message"],
    [() => send(ok, envelope(), Buffer.from("Subject: x\r\n\r\nhi\n.\r\n")), "EMAIL_INVALID_ARGUMENT", "message"],
    [() => send(ok, envelope(), Buffer.from("Subject: x\r\n\r\nno final line end")), "EMAIL_INVALID_ARGUMENT", "message"],
  ];
  for (const [fn, code, field] of cases) {
    assert.throws(fn, (e) => {
      assert.equal(e.code, code, e.message);
      assert.ok(e.message.includes(`\`${field}\``), `${field}: ${e.message}`);
      return true;
    });
  }
  assert.throws(() => send({ ...ok, host: "smtp.example.com" }, envelope(), mime()), /loopback hosts only .*"starttls"/);
});

test("E12 DKIM: smtp({ dkim }) signs every message; dkimpy verifies RSA-2048 and ed25519; h= covers the one-click headers", async () => {
  const s = await sink();
  const one = (i, unsubscribe) =>
    Buffer.from(
      [
        "From: Acme <news@acme.example>",
        `To: rcpt${i}@example.com`,
        `Subject: =?UTF-8?B?${Buffer.from(`Grüße ${i}`).toString("base64")}?=`,
        "Date: Mon, 30 Nov 2026 10:00:00 +0000",
        `Message-ID: <eml_${i}@acme.example>`,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        ...(unsubscribe ? ["List-Unsubscribe: <https://app.acme.example/email/u/u1.abc>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click"] : []),
        "",
        `Grüße ${i}`,
        ".a line that starts with a dot",
        "",
      ].join("\r\n"),
    );
  const cases = [];
  const labels = [];
  for (const [kind, privateKey, record] of dkimKeys()) {
    const transport = smtp({ ...options(s), dkim: { domain: "acme.example", selector: "s2026", privateKey } });
    const batch = [0, 1, 2].map((i) => ({ from: "bounce@acme.example", recipients: [`rcpt${i}@example.com`], raw: one(i, i !== 1) }));
    const before = s.state.messages.length;
    for (const m of batch) {
      const [r] = await transport.send([m]);
      assert.equal(r.outcome, "sent", JSON.stringify(r));
    }
    const got = s.state.messages.slice(before);
    assert.equal(got.length, 3);
    for (const [i, m] of got.entries()) {
      const text = m.raw.toString("latin1");
      assert.ok(text.startsWith("DKIM-Signature: v=1; a=" + (kind === "ed25519" ? "ed25519" : "rsa") + "-sha256;"), text.slice(0, 80));
      assert.ok(m.raw.subarray(m.raw.length - batch[i].raw.length).equals(batch[i].raw), "the message follows its signature unchanged");
      const h = /h=([^;]+);/.exec(text)[1].split(":");
      assert.equal(h.includes("list-unsubscribe") && h.includes("list-unsubscribe-post"), i !== 1, `${kind} ${i}: h=${h}`);
      cases.push([text, record], [text.replace("Gr\u00c3\u00bc\u00c3\u009fe", "Hallo"), record]);
      labels.push(`${kind} ${i}`, `${kind} ${i} tampered`);
    }
  }
  const verdicts = dkimpyVerdicts(cases);
  assert.deepEqual(
    verdicts.map((v, i) => `${labels[i]}: ${v}`),
    labels.map((l) => `${l}: ${!l.endsWith("tampered")}`),
  );
  // Bad keys and names are refused before any connection, by their field.
  const opened = s.state.connections;
  const ed = dkimKeys()[2][1];
  for (const [dkim, field] of [
    [{ domain: "acme.example", selector: "s", privateKey: "not a key" }, "options.dkim.privateKey"],
    [{ domain: "acme example", selector: "s", privateKey: ed }, "options.dkim.domain"],
    [{ domain: "acme.example", privateKey: ed }, "options.dkim.selector"],
  ]) {
    const err = await smtp({ ...options(s), dkim })
      .send([{ from: "a@acme.example", recipients: ["b@example.com"], raw: one(9, false) }])
      .then(() => null, (e) => e);
    assert.equal(err?.code, "EMAIL_INVALID_ARGUMENT", String(err));
    assert.ok(err.message.includes(field), err.message);
  }
  const noFrom = await smtp({ ...options(s), dkim: { domain: "acme.example", selector: "s", privateKey: ed } })
    .send([{ from: "a@acme.example", recipients: ["b@example.com"], raw: Buffer.from("To: b@example.com\r\n\r\nhi\r\n") }])
    .then(() => null, (e) => e);
  assert.equal(noFrom?.code, "EMAIL_INVALID_ARGUMENT", String(noFrom));
  assert.equal(s.state.connections, opened, "no connection for a refused send");
});
