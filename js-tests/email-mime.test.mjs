// MIME (spec E6): the twelve fixed inputs of core/tests/fixtures/email/mime.json, built by the
// backend USEBETTER_BINDING selects. The bytes are identical on native and wasm and across
// builds; every line ends in CRLF and has at most 998 octets; mailparser, postal-mime and
// Python's `email` package recover the same subject, addresses, bodies and attachments; no user
// field can add a header line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { simpleParser } from "mailparser";
import PostalMime from "postal-mime";
import core from "@usebetter-rs/core";
import { loadBackend } from "./helpers/backends.mjs";

const fixtures = JSON.parse(readFileSync(new URL("../core/tests/fixtures/email/mime.json", import.meta.url), "utf8"));
const native = loadBackend("native");
const wasm = loadBackend("wasm");
const contentsOf = (f) => (f.contents ?? []).map((c) => (c === null ? null : new Uint8Array(Buffer.from(c, "base64"))));
const build = (b, f) => b.emailBuildMessage(f.message, f.options ?? null, contentsOf(f));
const lf = (s) => s.replace(/\r\n?/g, "\n").replace(/\n+$/, "");

/** The lines of `bytes` that break RFC 5322 §2.1.1: bare CR or LF, over 998 octets, no final CRLF. */
function badLines(bytes) {
  const bad = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) {
      if (i - start > 998) bad.push(`line at ${start}: ${i - start} octets`);
      start = i + 2;
      i++;
    } else if (bytes[i] === 13 || bytes[i] === 10) {
      bad.push(`bare ${bytes[i] === 13 ? "CR" : "LF"} at ${i}`);
    }
  }
  if (start !== bytes.length) bad.push("no CRLF after the last line");
  return bad;
}

function python(bytes) {
  const out = execFileSync("python3", [new URL("./helpers/parse-mime.py", import.meta.url).pathname], { input: bytes });
  return JSON.parse(out);
}

/** What every parser must recover, from the fixture (recipients de-duplicated by the core). */
function expected(f) {
  const m = f.message;
  const r = core.emailRecipients({ to: m.to, cc: m.cc, bcc: m.bcc }, f.options ?? null);
  const one = (a) => core.emailParseAddress(a, f.options ?? null);
  const list = (v) => (v == null ? [] : Array.isArray(v) ? v : [v]).map(one);
  const attachments = (m.attachments ?? []).map((a, i) => ({
    filename: a.filename,
    contentType: a.contentType ?? "application/octet-stream",
    contentId: a.contentId ?? null,
    content:
      a.content != null
        ? Buffer.from(a.content, "utf8")
        : Buffer.from(f.contents[i], "base64"),
  }));
  const pick = (ms) => ms.map((x) => ({ name: x.name ?? "", address: x.address }));
  return { subject: m.subject, from: pick([one(m.from)]), to: pick(r.to), cc: pick(r.cc), replyTo: pick(list(m.replyTo)), text: m.text, html: m.html, attachments };
}

function compare(label, got, want) {
  assert.equal(got.subject, want.subject, `${label}: subject`);
  for (const k of ["from", "to", "cc", "replyTo"]) {
    assert.deepEqual(got[k].map((a) => ({ name: a.name ?? "", address: a.address })), want[k], `${label}: ${k}`);
  }
  assert.deepEqual(got.bcc ?? [], [], `${label}: bcc`);
  if (want.text != null) assert.equal(lf(got.text), lf(want.text), `${label}: text`);
  if (want.html != null) assert.equal(lf(got.html), lf(want.html), `${label}: html`);
  assert.equal(got.attachments.length, want.attachments.length, `${label}: attachment count`);
  want.attachments.forEach((w, i) => {
    const a = got.attachments[i];
    assert.equal(a.filename, w.filename, `${label}: attachment ${i} filename`);
    assert.equal(a.contentType, w.contentType, `${label}: attachment ${i} type`);
    assert.equal(a.contentId ? a.contentId.replace(/^<|>$/g, "") : null, w.contentId, `${label}: attachment ${i} content id`);
    assert.ok(Buffer.from(a.content).equals(w.content), `${label}: attachment ${i} bytes`);
  });
}

test("the same bytes on native and wasm and on every build", () => {
  assert.equal(fixtures.length, 12);
  for (const f of fixtures) {
    const a = build(native, f);
    assert.ok(a instanceof Uint8Array, f.name);
    assert.deepEqual(build(wasm, f), a, `${f.name}: native and wasm differ`);
    assert.deepEqual(build(core, f), a, `${f.name}: second build differs`);
    assert.equal(core.emailMessageSize(f.message, f.options ?? null, contentsOf(f)), a.length, `${f.name}: size estimate`);
  }
});

test("every line ends in CRLF and has at most 998 octets; Bcc is never written", () => {
  for (const f of fixtures) {
    const bytes = build(core, f);
    assert.deepEqual(badLines(bytes), [], f.name);
    const head = Buffer.from(bytes).toString("utf8").split("\r\n\r\n")[0];
    assert.doesNotMatch(head, /^bcc:/im, f.name);
    assert.ok(!Buffer.from(bytes).includes("audit@acme.example"), `${f.name}: a bcc address is in the message`);
  }
  // A long unbroken line in a body is encoded, not passed through.
  const long = fixtures.find((f) => f.name === "long-lines");
  assert.ok(long.message.text.split("\n").some((l) => l.length > 998));
});

test("mailparser recovers subject, addresses, bodies and attachments", async () => {
  for (const f of fixtures) {
    const p = await simpleParser(Buffer.from(build(core, f)), { keepCidLinks: true });
    const addr = (h) => (h ? (Array.isArray(h) ? h : [h]).flatMap((x) => x.value) : []);
    compare(`mailparser ${f.name}`, {
      subject: p.subject,
      from: addr(p.from),
      to: addr(p.to),
      cc: addr(p.cc),
      replyTo: addr(p.replyTo),
      bcc: addr(p.bcc),
      text: p.text,
      html: p.html === false ? undefined : p.html,
      attachments: p.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, contentId: a.contentId ?? null, content: a.content })),
    }, expected(f));
  }
});

test("postal-mime recovers subject, addresses, bodies and attachments", async () => {
  for (const f of fixtures) {
    const p = await PostalMime.parse(build(core, f));
    const list = (v) => (v ? (Array.isArray(v) ? v : [v]) : []);
    compare(`postal-mime ${f.name}`, {
      subject: p.subject,
      from: list(p.from),
      to: list(p.to),
      cc: list(p.cc),
      replyTo: list(p.replyTo),
      bcc: list(p.bcc),
      text: p.text,
      html: p.html,
      attachments: p.attachments.map((a) => ({ filename: a.filename, contentType: a.mimeType, contentId: a.contentId ?? null, content: new Uint8Array(a.content) })),
    }, expected(f));
  }
});

test("Python's email package recovers the same, without defects", () => {
  for (const f of fixtures) {
    const p = python(build(core, f));
    assert.deepEqual(p.defects, [], `python ${f.name}: defects`);
    compare(`python ${f.name}`, { ...p, attachments: p.attachments.map((a) => ({ ...a, content: Buffer.from(a.content, "base64") })) }, expected(f));
  }
});

const EVIL = "x\r\nX-Injected: yes\r\n\r\n<p>phish</p>";
const base = () => ({ from: "Acme <no-reply@mail.acme.example>", to: "jane@example.com", subject: "Hi", text: "Body", messageId: "eml_x@mail.acme.example", dateMs: 1_800_000_000_000 });

test("no user field can add a header line", async () => {
  const cases = {
    subject: { subject: EVIL },
    "from name": { from: { address: "a@x.example", name: EVIL } },
    "from text": { from: `${EVIL} <a@x.example>` },
    "to address": { to: [`a@x.example${EVIL}`] },
    "cc name": { cc: { address: "c@x.example", name: EVIL } },
    "replyTo quoted": { replyTo: `"${EVIL}" <r@x.example>` },
    "header value": { headers: { "X-Note": EVIL } },
    "header value LF": { headers: { "X-Note": "a\nX-Injected: yes" } },
    "header name": { headers: { "X-Note\r\nX-Injected": "yes" } },
    messageId: { messageId: `a@b${EVIL}` },
    listUnsubscribe: { listUnsubscribe: `<https://u.example/${EVIL}>` },
    listId: { listId: EVIL },
    filename: { attachments: [{ filename: EVIL, content: "x" }] },
    contentType: { attachments: [{ filename: "a.txt", contentType: `text/plain${EVIL}`, content: "x" }] },
    contentId: { attachments: [{ filename: "a.png", contentId: EVIL, content: "x" }] },
  };
  let refused = 0;
  for (const [label, patch] of Object.entries(cases)) {
    const m = { ...base(), ...patch };
    let bytes;
    try {
      bytes = core.emailBuildMessage(m, null, null);
    } catch (err) {
      assert.match(err.code, /^EMAIL_INVALID_(ADDRESS|HEADER|ARGUMENT)$/, `${label}: ${err.code} ${err.message}`);
      assert.deepEqual(same(() => wasm.emailBuildMessage(m, null, null)), same(() => native.emailBuildMessage(m, null, null)), label);
      refused++;
      continue;
    }
    const text = Buffer.from(bytes).toString("utf8");
    assert.ok(!text.includes("\r\nX-Injected:"), `${label}:\n${text}`);
    assert.deepEqual(badLines(bytes), [], label);
    const p = await simpleParser(Buffer.from(bytes));
    assert.ok(!p.headers.has("x-injected"), label);
  }
  // Each field is refused (or encoded) on its own: most are refused outright.
  assert.ok(refused >= 12, String(refused));
  const err = (() => {
    try {
      core.emailBuildMessage({ ...base(), headers: { "X-Note": "a\r\nb" } }, null, null);
    } catch (e) {
      return e;
    }
  })();
  assert.equal(err.code, "EMAIL_INVALID_HEADER");
  assert.match(err.message, /`X-Note`/);
});

function same(fn) {
  try {
    return { ok: fn() };
  } catch (e) {
    return { code: e.code, message: e.message };
  }
}

test("the size limit names both numbers", () => {
  const m = { ...base(), attachments: [{ filename: "big.bin" }] };
  const contents = [new Uint8Array(30_000).fill(7)];
  const size = core.emailMessageSize(m, null, contents);
  assert.equal(size, core.emailBuildMessage(m, null, contents).length);
  for (const fn of [core.emailMessageSize, core.emailBuildMessage]) {
    assert.throws(() => fn(m, { maxMessageBytes: 40_000 }, contents), (e) => e.code === "EMAIL_MESSAGE_TOO_LARGE" && e.message.includes(String(size)) && e.message.includes("40000"));
  }
  assert.throws(() => core.emailBuildMessage({ ...base(), to: Array.from({ length: 51 }, (_, i) => `u${i}@x.example`) }, null, null), { code: "EMAIL_TOO_MANY_RECIPIENTS" });
});
