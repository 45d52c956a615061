// `render: "worker"` (spec §7.4, §20 E8) against real PostgreSQL with row-level security on:
// a send stores the props and no content; the worker renders at the first hand-off (a tenant's
// override, by locale, over the code template), stores the result before sending, and every
// later attempt sends the same bytes even after the override changed. The output equals what
// `render: "enqueue"` stores and sends for the same props. A message that cannot be rendered
// fails with the code in `last_error` and is never sent; props are checked at send.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { betterEmail, defineTemplate, html } from "@usebetterdev/email";
import { drizzleEmailAdapter } from "@usebetterdev/email/drizzle";
import { captureTransport } from "@usebetterdev/email/testing";
import { rejectsWith } from "./helpers/errors.mjs";
import { webhooksDatabase, asSystem } from "./helpers/webhooks.mjs";

const A = randomUUID();
const B = randomUUID();
let db, pool, tenant, enqueue, worker, enqueueOut, workerOut;

// A Standard Schema by hand: `name` must be a string.
const named = {
  "~standard": { version: 1, vendor: "test", validate: (v) => (typeof v?.name === "string" ? { value: v } : { issues: [{ message: "expected a string", path: ["name"] }] }) },
};
const welcome = defineTemplate({
  name: "welcome",
  schema: named,
  subject: (p) => `Welcome, ${p.name}`,
  html: (p) => html`<p>Hello ${p.name}</p><ul>${p.items?.map((i) => html`<li>${i}</li>`) ?? ""}</ul>`,
  text: (p) => `Hello ${p.name}: ${(p.items ?? []).join(", ")}`,
  sample: { name: "Sam", items: ["a"] },
  editable: true,
});
const receipt = defineTemplate({ name: "receipt", category: "transactional", subject: (p) => `Receipt ${p.n}`, html: (p) => html`<p>Total: ${p.total}</p>`, sample: { n: 1, total: "1" } });
const huge = defineTemplate({ name: "huge", subject: () => "Huge", text: (p) => "x".repeat(p.size) });
const templates = { welcome, receipt, huge };

const rows = (sql, params) => asSystem(pool, sql, params);
const message = async (id) =>
  (await rows("SELECT status, subject, html, text_body, rendered, props, template_version, last_error, attempt_count FROM email_messages WHERE message_id_header LIKE $1", [`<${id}@%`]))[0];
const config = (extra) => ({
  database: drizzleEmailAdapter(drizzle(pool)),
  from: "Acme <hello@acme.example>",
  unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
  secretsKey: randomBytes(32).toString("base64"),
  retrySchedule: [0, 0, 0],
  templates,
  ...extra,
});
const rejects = rejectsWith;

before(async () => {
  db = await webhooksDatabase("email_render_worker");
  pool = db.pool;
  enqueueOut = captureTransport();
  workerOut = captureTransport();
  enqueue = betterEmail(config({ transport: enqueueOut }));
  worker = betterEmail(config({ transport: workerOut, render: "worker" }));
  await pool.query(enqueue.migrationSql(1));
  await pool.query("CREATE TABLE tenants (id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())");
  for (const [i, id] of [A, B].entries()) await pool.query("INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)", [id, `t${i}`]);
  tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
  // A's overrides of `welcome`: German and the default locale.
  await tenant.runAs(A, () => enqueue.templates.save({ name: "welcome", locale: "de", subject: "Hallo {{ name }}", html: "<p>Willkommen {{ name }}</p>", text: "Willkommen {{ name }}" }));
  await tenant.runAs(A, () => enqueue.templates.save({ name: "welcome", subject: "Hey {{ name|upper }}", html: "<b>{{ name }}</b>{% for i in items %}<i>{{ i }}</i>{% endfor %}" }));
});

after(async () => {
  await db?.drop();
});

test("E8: render: \"worker\" stores props and no content, then sends what render: \"enqueue\" sends for the same props", async () => {
  const cases = [
    { t: A, input: { to: "ann@example.com", template: "welcome", locale: "de-CH", props: { name: `<script>"Ann"</script>` } } },
    { t: A, input: { to: "ann@example.com", template: "welcome", props: { name: "Ann", items: ["x<y", "z"] } } },
    { t: B, input: { to: "bob@example.com", template: "welcome", locale: "de", props: { name: "Bob", items: ["1", "2"] } } },
    { t: B, input: { to: "bob@example.com", template: "receipt", props: { n: 7, total: "€ 12 & 50" } } },
  ];
  // One database: each instance's mail is sent by its own drain.
  const sentByEnqueue = [];
  for (const { t, input } of cases) sentByEnqueue.push(await tenant.runAs(t, () => enqueue.send(input)));
  await enqueue.drain();
  const pairs = [];
  for (const [n, { t, input }] of cases.entries()) {
    const e = sentByEnqueue[n];
    const w = await tenant.runAs(t, () => worker.send(input));
    assert.equal(w.status, "queued");
    const stored = await message(w.id);
    assert.equal(stored.rendered, false);
    assert.deepEqual([stored.subject, stored.html, stored.text_body], [null, null, null]);
    assert.deepEqual(stored.props, input.props);
    // Enqueue mode keeps no props (retention.storeProps is off).
    assert.equal((await message(e.id)).props, null);
    pairs.push([e.id, w.id]);
  }
  await worker.drain();
  // Templates without a text part (the receipt's code template, A's default override) get one
  // from their HTML in both modes: entities decoded, elements on their own lines.
  assert.equal((await message(pairs[3][1])).text_body, "Total: € 12 & 50");
  assert.equal((await message(pairs[1][1])).text_body, "Annx<yz");
  for (const [e, w] of pairs) {
    const [se, sw] = [await message(e), await message(w)];
    assert.equal(sw.status, "sent", sw.last_error);
    assert.equal(sw.rendered, true);
    // Frozen: the content enqueue stored, and the props dropped once rendered.
    assert.deepEqual([sw.subject, sw.html, sw.text_body], [se.subject, se.html, se.text_body]);
    assert.equal(sw.props, null);
    const [me, mw] = [enqueueOut.sent().find((m) => m.id === e), workerOut.sent().find((m) => m.id === w)];
    assert.deepEqual([mw.subject, mw.html, mw.text], [me.subject, me.html, me.text]);
    // The MIME differs only by what derives from the message's own id and date.
    const strip = (m) => Buffer.from(m.raw).toString().replaceAll(m.id, "ID").replace(/^Date: .*$/m, "Date: D").replace(/=_[0-9a-f]+\./g, "=_B.");
    assert.equal(strip(mw), strip(me));
    assert.match(Buffer.from(mw.raw).toString(), /Content-Type: text\/plain/);
  }
  const [deCh, plain, bob, rcpt] = await Promise.all(pairs.map(([, w]) => message(w)));
  assert.equal(deCh.subject, `Hallo <script>"Ann"</script>`);
  assert.equal(deCh.html, "<p>Willkommen &lt;script&gt;&quot;Ann&quot;&lt;&#x2f;script&gt;</p>");
  assert.equal(deCh.template_version, "1");
  assert.equal(plain.html, "<b>Ann</b><i>x&lt;y</i><i>z</i>");
  // B has no override: the code template, escaped by `html`.
  assert.equal(bob.subject, "Welcome, Bob");
  assert.equal(bob.template_version, null);
  assert.equal(rcpt.html, "<p>Total: € 12 &amp; 50</p>");
});

test("a message rendered by the worker keeps its content across attempts, whatever the override becomes", async () => {
  const raws = [];
  const flaky = {
    ...captureTransport({ name: "flaky" }),
    async send(batch) {
      return batch.map((m) => {
        if (m.id !== r.id) return { outcome: "sent", providerMessageId: m.id };
        raws.push(Buffer.from(m.raw).toString());
        return raws.length === 1 ? { outcome: "retryable", detail: "try later" } : { outcome: "sent", providerMessageId: m.id };
      });
    },
  };
  const email = betterEmail(config({ transport: flaky, render: "worker", retrySchedule: [0, 60] }));
  let r;
  r = await tenant.runAs(A, () => email.send({ to: "ann@example.com", template: "welcome", locale: "de", props: { name: "Ann" } }));
  await email.drain();
  assert.equal(raws.length, 1);
  assert.equal((await message(r.id)).status, "queued");
  // The tenant edits the override between the attempts: the message keeps what it was rendered with.
  await tenant.runAs(A, () => enqueue.templates.save({ name: "welcome", locale: "de", subject: "Neu {{ name }}", html: "<p>Neu</p>" }));
  await rows("UPDATE email_messages SET next_attempt_at = now() WHERE message_id_header LIKE $1", [`<${r.id}@%`]);
  await email.drain();
  assert.equal(raws.length, 2);
  assert.equal(raws[1], raws[0]);
  assert.match(raws[0], /^Subject: Hallo Ann\r$/m);
  const m = await message(r.id);
  assert.deepEqual([m.status, m.subject, m.template_version, m.attempt_count], ["sent", "Hallo Ann", "1", 2]);
});

test("mail the worker cannot render fails with the code in last_error and is never sent; bad props are refused at send", async () => {
  const out = captureTransport({ name: "out" });
  const email = betterEmail(config({ transport: out, render: "worker", maxMessageBytes: 2048 }));
  // Checked at send by the template's schema: nothing written.
  const before = await rows("SELECT count(*)::int AS n FROM email_messages");
  await rejects(tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "welcome", props: { name: 5 } })), "EMAIL_TEMPLATE_PROPS_INVALID", /at name: expected a string/);
  assert.deepEqual(await rows("SELECT count(*)::int AS n FROM email_messages"), before);

  // Rendered over maxMessageBytes.
  const big = await tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "huge", props: { size: 4096 } }));
  // A tenant's override that never ends: stopped by the fuel limit.
  const triple = "{% for a in items %}{% for b in items %}{% for c in items %}{% endfor %}{% endfor %}{% endfor %}done";
  await tenant.runAs(A, () => enqueue.templates.save({ name: "welcome", locale: "fr", subject: "Salut", html: triple }));
  const items = Array.from({ length: 1000 }, (_, i) => String(i));
  const loop = await tenant.runAs(A, () => email.send({ to: "ann@example.com", template: "welcome", locale: "fr", props: { name: "Ann", items } }));
  // A worker whose registry lacks the template (another may have it: retried on the schedule).
  const lacking = betterEmail(config({ transport: out, render: "worker", templates: { receipt } }));
  const missing = await tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "welcome", props: { name: "Bob" } }));
  await rows("UPDATE email_messages SET next_attempt_at = now() + interval '1 hour' WHERE message_id_header NOT LIKE $1", [`<${missing.id}@%`]);
  await lacking.drain();
  await rows("UPDATE email_messages SET next_attempt_at = now() WHERE status = 'queued'");
  const started = Date.now();
  await email.drain();
  assert.ok(Date.now() - started < 5_000);
  const expect = { [big.id]: /^EMAIL_MESSAGE_TOO_LARGE: /, [loop.id]: /^EMAIL_TEMPLATE_RENDER_FAILED: .*stopped after 50000 instructions/, [missing.id]: /^EMAIL_TEMPLATE_NOT_FOUND: .*"welcome"/ };
  for (const [id, pattern] of Object.entries(expect)) {
    const m = await message(id);
    assert.equal(m.status, "failed", id);
    assert.match(m.last_error, pattern);
    assert.equal(m.rendered, false);
    assert.equal(m.attempt_count, id === missing.id ? 3 : 1, id);
  }
  assert.equal(out.sent().length, 0);
  // No attempt row: nothing reached a transport.
  assert.deepEqual(await rows("SELECT count(*)::int AS n FROM email_attempts WHERE transport = 'out'"), [{ n: 0 }]);
});

test("retention.storeProps keeps the props, with either render mode", async () => {
  const out = captureTransport({ name: "kept" });
  for (const render of ["enqueue", "worker"]) {
    const email = betterEmail(config({ transport: out, render, retention: { storeProps: true } }));
    const r = await tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "receipt", props: { n: 1, total: "3" } }));
    await email.drain();
    const m = await message(r.id);
    assert.deepEqual([m.status, m.rendered, m.subject, m.props], ["sent", true, "Receipt 1", { n: 1, total: "3" }], render);
  }
});

test("the worker's own faults: props that JSON cannot hold are refused at send; stripped props are not stored; purged props, a bad render answer and a slow render fail or keep only their own message", async () => {
  const pick = {
    "~standard": { version: 1, vendor: "test", validate: (v) => (typeof v?.name === "string" ? { value: { name: v.name } } : { issues: [{ message: "expected a string", path: ["name"] }] }) },
  };
  const note = defineTemplate({ name: "note", schema: pick, subject: (p) => `Note for ${p.name}`, text: (p) => `Hi ${p.name}` });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Hand-made registry entries: one answers a number as its subject, one renders slowly.
  const odd = { ...defineTemplate({ name: "odd", subject: () => "x", text: () => "x" }), render: async () => ({ subject: 42 }) };
  const slowT = defineTemplate({ name: "slow", subject: () => "Slow", text: () => "slow" });
  const slow = { ...slowT, render: async (p) => (await sleep(1_200), slowT.render(p)) };
  let leaseLeft = null;
  const out = captureTransport({ name: "own" });
  const watching = {
    ...out,
    async send(batch, signal, mark) {
      for (const m of batch.filter((x) => x.subject === "Slow")) {
        [{ left: leaseLeft }] = await rows("SELECT extract(epoch FROM lease_until - now()) * 1000 AS left FROM email_messages WHERE message_id_header = $1", [`<${m.messageId}>`]);
      }
      return out.send(batch, signal, mark);
    },
  };
  const email = betterEmail(config({ transport: watching, render: "worker", templates: { note, odd, slow } }));
  const count = async () => (await rows("SELECT count(*)::int AS n FROM email_messages"))[0].n;
  const n = await count();
  await rejects(tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "note", props: { name: "Bob", big: 1n } })), "EMAIL_TEMPLATE_PROPS_INVALID", /stores the props as JSON/);
  assert.equal(await count(), n);

  const stripped = await tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "note", props: { name: "Bob", passwordHash: "$argon2id$secret" } }));
  assert.deepEqual((await message(stripped.id)).props, { name: "Bob" });
  const purged = await tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "note", props: { name: "Pat" } }));
  await rows("UPDATE email_messages SET props = NULL WHERE message_id_header LIKE $1", [`<${purged.id}@%`]);
  const bad = await tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "odd", props: {} }));
  const late = await tenant.runAs(B, () => email.send({ to: "bob@example.com", template: "slow", props: {} }));
  await email.drain({ leaseMs: 1_000, timeoutMs: 5_000 });

  assert.deepEqual([(await message(stripped.id)).status, (await message(late.id)).status], ["sent", "sent"]);
  assert.equal(out.sent().find((m) => m.id === stripped.id).text, "Hi Bob");
  // The slow render took longer than the lease: the freeze gave it a new one before the hand-off.
  assert.ok(leaseLeft > 500, `lease left at hand-off: ${leaseLeft} ms`);
  const p = await message(purged.id);
  assert.deepEqual([p.status, p.subject], ["failed", null]);
  assert.match(p.last_error, /^EMAIL_TEMPLATE_RENDER_FAILED: .*props are gone/);
  const b = await message(bad.id);
  assert.equal(b.status, "failed");
  assert.match(b.last_error, /^EMAIL_TEMPLATE_RENDER_FAILED: template "odd" gave no string subject/);
  assert.deepEqual(out.sent().map((m) => m.id).sort(), [stripped.id, late.id].sort());
});

test("the size a send checks counts the List-Unsubscribe headers the worker adds: the largest unsubscribable mail a send accepts is within maxMessageBytes as built", async () => {
  const out = captureTransport({ name: "sized" });
  const limit = 4096;
  const email = betterEmail(config({ transport: out, maxMessageBytes: limit }));
  const accepted = async (category, n) => {
    try {
      await tenant.runAs(B, () => email.send({ to: "Bob@Example.com", subject: "Sized", text: "y".repeat(n), category }));
      return true;
    } catch (err) {
      if (err.code === "EMAIL_MESSAGE_TOO_LARGE") return false;
      throw err;
    }
  };
  // The longest body each category's send accepts.
  const largest = async (category) => {
    let [lo, hi] = [0, limit];
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (await accepted(category, mid)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const plain = await largest("transactional");
  const listed = await largest("marketing");
  // The two headers (a sealed token in an https URL) take a few hundred bytes.
  assert.ok(plain - listed > 150, `transactional ${plain}, marketing ${listed}`);
  await email.drain();
  const built = out.sent().map((m) => ({ unsubscribable: /^List-Unsubscribe: /m.test(Buffer.from(m.raw).toString()), size: m.raw.length }));
  assert.ok(built.some((m) => m.unsubscribable) && built.some((m) => !m.unsubscribable));
  assert.ok(built.every((m) => m.size <= limit), JSON.stringify(built.filter((m) => m.size > limit)));
  // Counted as built, not guessed: the largest accepted of each kind is within a few bytes of the limit.
  for (const kind of [true, false]) {
    const most = Math.max(...built.filter((m) => m.unsubscribable === kind).map((m) => m.size));
    assert.ok(most > limit - 20, `unsubscribable ${kind}: largest built ${most}`);
  }
});
