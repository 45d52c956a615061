// Code templates and the development/test transports of @usebetterdev/email (spec §7.1, §8.6,
// §20 E8 in part): `html` escapes every value and refuses script URLs however they are spelled
// or split, templates render typed props through their Standard Schema with coded errors naming
// the template, and the file and capture transports keep exactly what they are given.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { html, escapeHtml, defineTemplate, EmailTemplateError } from "@usebetterdev/email";
import { consoleTransport, fileTransport } from "@usebetterdev/email/dev";
import { captureTransport } from "@usebetterdev/email/testing";

test("html escapes &<>\"' in every value, passes html fragments and arrays through, drops null/undefined/false", () => {
  const name = `<script>alert("x")</script> & 'y'`;
  assert.equal(String(html`<p>${name}</p>`), "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;</p>");
  assert.equal(String(html`<a title="${'" onmouseover="x'}">t</a>`), '<a title="&quot; onmouseover=&quot;x">t</a>');
  const items = ["a<b", "c"].map((i) => html`<li>${i}</li>`);
  assert.equal(String(html`<ul>${items}</ul>`), "<ul><li>a&lt;b</li><li>c</li></ul>");
  assert.equal(String(html`${null}${undefined}${false}${0}`), "0");
  assert.equal(String(html`<b>${html.raw("<i>ok</i>")}</b>`), "<b><i>ok</i></b>");
  assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
});

test("html refuses script URLs in link and source attributes, however spelled or split", () => {
  const refused = [
    (u) => html`<a href="${u}">x</a>`,
    (u) => html`<a href='${u}'>x</a>`,
    (u) => html`<a href=${u}>x</a>`,
    (u) => html`<img src="${u}">`,
    (u) => html`<a/href="${u}">x</a>`,
    (u) => html`<form action="${u}"></form>`,
  ];
  const urls = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)", "java\nscript:x", "vbscript:msgbox", "data:text/html,<script>x</script>"];
  for (const make of refused) {
    // Unquoted, a value ends at whitespace (`href=java script:x` is `java` and another attribute).
    for (const url of String(make).includes("href=${u}") ? urls.filter((u) => !/\S\s+\S/.test(u)) : urls) {
      assert.throws(() => make(url), (e) => e instanceof EmailTemplateError && e.code === "EMAIL_TEMPLATE_RENDER_FAILED" && /URL/.test(e.message), `${make} ${JSON.stringify(url)}`);
    }
  }
  // A scheme split across values, or across the literal and a value, is seen whole.
  assert.throws(() => html`<a href="${"java"}${"script:x"}">x</a>`, { code: "EMAIL_TEMPLATE_RENDER_FAILED" });
  assert.throws(() => html`<a href="java${"script:x"}">x</a>`, { code: "EMAIL_TEMPLATE_RENDER_FAILED" });
  // Entities decode in attributes: trusted markup that spells the scheme with them is refused,
  // while the same text as a value is escaped into harmless characters.
  for (const spelled of ["&#106;avascript:x", "&#x6A;avascript:x", "javascript&colon;x", "java&Tab;script:x"]) {
    assert.throws(() => html`<a href="${html.raw(spelled)}">x</a>`, { code: "EMAIL_TEMPLATE_RENDER_FAILED" }, spelled);
    assert.equal(String(html`<a href="${spelled}">x</a>`), `<a href="${spelled.replaceAll("&", "&amp;")}">x</a>`);
  }
  // A fragment built earlier is checked again where it lands.
  assert.throws(() => html`<div>${html.raw('<a href="javascript:x">x</a>')}</div>`, { code: "EMAIL_TEMPLATE_RENDER_FAILED" });
  // Allowed: http(s), mailto, tel, cid, relative, inline images; script words elsewhere.
  for (const ok of ["https://example.com/?a=1&b=2", "http://x.test", "mailto:a@example.com", "tel:+41", "cid:logo", "/path", "#top", "data:image/png;base64,iVBOR"]) {
    assert.doesNotThrow(() => html`<a href="${ok}">javascript: is a word</a><img src="${ok}">`, ok);
  }
  assert.equal(String(html`<a href="${"https://x.test/?q=<b>"}">`), '<a href="https://x.test/?q=&lt;b&gt;">');
});

const standard = (check) => ({ "~standard": { version: 1, vendor: "test", validate: check } });

test("defineTemplate renders typed props; its schema and its functions fail with codes naming the template", async () => {
  const welcome = defineTemplate({
    name: "welcome",
    category: "transactional",
    subject: (p) => `Welcome, ${p.name}`,
    html: (p) => html`<h1>Hi ${p.name}</h1><a href="${p.url}">Start</a>`,
    text: (p) => `Hi ${p.name}\n${p.url}`,
    schema: standard((v) => (typeof v?.name === "string" && v.name.length > 0 ? { value: { ...v, name: v.name.trim() } } : { issues: [{ message: "required", path: [{ key: "name" }] }] })),
  });
  assert.deepEqual(await welcome.render({ name: " Ada <3 ", url: "https://app.test/start" }), {
    subject: "Welcome, Ada <3",
    html: '<h1>Hi Ada &lt;3</h1><a href="https://app.test/start">Start</a>',
    text: "Hi Ada <3\nhttps://app.test/start",
  });
  await assert.rejects(welcome.render({ name: "", url: "x" }), { code: "EMAIL_TEMPLATE_PROPS_INVALID", message: 'template "welcome": invalid props at name: required' });
  await assert.rejects(welcome.render({ name: "Eve", url: "javascript:steal()" }), (e) => e.code === "EMAIL_TEMPLATE_RENDER_FAILED" && e.message.startsWith('template "welcome": html:'));
  const broken = defineTemplate({ name: "broken", subject: (p) => p.missing.deep, text: () => "t" });
  await assert.rejects(broken.render({}), (e) => e instanceof EmailTemplateError && e.code === "EMAIL_TEMPLATE_RENDER_FAILED" && /^template "broken" failed to render: /.test(e.message));
  for (const [bad, field] of [[{ subject: () => "s", text: () => "t" }, /`name`/], [{ name: "x y", subject: () => "s", text: () => "t" }, /`name`/], [{ name: "n", text: () => "t" }, /`subject`/], [{ name: "n", subject: () => "s" }, /`html`, `text`/], [{ name: "n", subject: () => "s", html: "<p>" }, /`html` must be a function/]]) {
    assert.throws(() => defineTemplate(bad), { code: "EMAIL_INVALID_ARGUMENT", message: field });
  }
});

const message = (id, extra = {}) => ({
  id,
  tenantId: null,
  category: "transactional",
  from: "app@example.com",
  recipients: ["Ada@Example.com"],
  subject: `Subject ${id}`,
  html: `<p>Hello <a href="https://app.test/a?x=1&amp;y=2">go</a></p>`,
  text: "Hello\nhttps://app.test/t",
  raw: new TextEncoder().encode(`Subject: Subject ${id}\r\n\r\nHello\r\n`),
  messageId: `${id}@example.com`,
  idempotencyKey: id,
  attempt: 1,
  ...extra,
});

test("fileTransport writes each message's exact bytes as {id}.eml and indexes it; consoleTransport prints a line and the text", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "email-file-")), "out");
  const t = fileTransport({ dir });
  const batch = [message("eml_a"), message("eml_b")];
  assert.deepEqual(await t.send(batch, new AbortController().signal), [{ outcome: "sent", providerMessageId: "eml_a" }, { outcome: "sent", providerMessageId: "eml_b" }]);
  assert.deepEqual(readdirSync(dir).sort(), ["eml_a.eml", "eml_b.eml", "index.jsonl"]);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, "eml_a.eml"))), batch[0].raw);
  const index = readFileSync(join(dir, "index.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(index[1], { id: "eml_b", to: ["Ada@Example.com"], subject: "Subject eml_b", category: "transactional", file: "eml_b.eml" });
  assert.throws(() => fileTransport({}), { code: "EMAIL_INVALID_CONFIG" });
  let printed = "";
  await consoleTransport({ write: (s) => (printed += s) }).send([message("eml_c")], new AbortController().signal);
  assert.equal(printed, "email eml_c [transactional] to Ada@Example.com: Subject eml_c\nHello\nhttps://app.test/t\n");
});

test("captureTransport: sent, lastTo (any case), links, waitFor, failNext, a retry kept once, clear", async () => {
  const t = captureTransport();
  const signal = new AbortController().signal;
  const waiting = t.waitFor((m) => m.subject === "Subject eml_2", { timeoutMs: 2_000 });
  t.failNext("throttled", { status: 429, retryAfterMs: 90_000 });
  assert.deepEqual(await t.send([message("eml_1"), message("eml_2")], signal), [
    { outcome: "throttled", status: 429, retryAfterMs: 90_000 },
    { outcome: "sent", providerMessageId: "eml_2" },
  ]);
  assert.equal((await waiting).id, "eml_2");
  await t.send([message("eml_1"), message("eml_2")], signal); // eml_1's retry; eml_2 again
  assert.deepEqual(t.sent().map((m) => m.id), ["eml_2", "eml_1"]);
  assert.equal(t.lastTo("ada@example.COM").id, "eml_1");
  assert.equal(t.lastTo("nobody@example.com"), undefined);
  assert.deepEqual(t.links(t.sent()[0]), ["https://app.test/a?x=1&y=2", "https://app.test/t"]);
  await assert.rejects(t.waitFor((m) => m.id === "eml_9", { timeoutMs: 50 }), { code: "EMAIL_NOT_FOUND" });
  t.clear();
  assert.deepEqual(t.sent(), []);
});
