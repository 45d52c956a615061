// E21 of the email spec, the parts this version has: what `send()` with a code template adds to
// the application's transaction (p50, interleaved with the same transaction without it), code
// template renders per second, renders of a 5 KiB tenant-editable (minijinja) template per second
// through the core's preview path, and MIME builds of a 4 KiB message per second (the core,
// native addon, one thread), and `htmlToText` in MB/s of HTML. Run through
// bench/email.sh, before the throughput rounds.
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import core from "@usebetter-rs/core";
import emailCore from "@usebetter-rs/core/email-binding";
import { betterEmail, defineTemplate, html } from "@usebetterdev/email";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { captureTransport } from "@usebetterdev/email/testing";
import { admin, captureStatement, freshIds, urlOf } from "../webhooks/common.mjs";
import { emailSection, FROM, message } from "./common.mjs";

// BENCH_SEND_ROUNDS: transactions of each kind (default 2,000); BENCH_PREPARE=1: named prepared
// statements (`sqlEmailAdapter(pool, { prepare: true })`).
const ROUNDS = Number(process.env.BENCH_SEND_ROUNDS ?? 2_000);
const DB = `bench_email_cost_${process.pid}`;
const TENANT = randomUUID();
const f = (x, d = 0) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const order = defineTemplate({
  name: "order",
  category: "transactional",
  subject: (p) => `Your order #${p.number} is confirmed`,
  html: (p) => html`<h1>Thanks for your order, ${p.name}!</h1><table>${p.items.map((i) => html`<tr><td>${i.name}</td><td>${i.price}</td></tr>`)}</table><p>${p.note}</p>`,
  text: (p) => `Thanks for your order, ${p.name}!\n${p.items.map((i) => `- ${i.name}: ${i.price}`).join("\n")}\n${p.note}`,
});
const props = (i) => ({
  number: 100000 + i,
  name: `customer ${i}`,
  items: Array.from({ length: 12 }, (_, k) => ({ name: `Item ${k} <of ${i}>`, price: `$${(4.99 + k).toFixed(2)}` })),
  note: "Questions about delivery, returns or invoices? Reply to this message. ".repeat(30),
});

/** Calls `fn` for `ms` milliseconds (after a warm-up); resolves to calls per second. */
async function rate(fn, ms = 2_000) {
  for (let i = 0; i < 200; i++) await fn(i);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) await fn(n++);
  return n / ((performance.now() - t0) / 1000);
}

const a = await admin();
await a.query(`CREATE DATABASE ${DB} OWNER app`);
const pool = new pg.Pool({ connectionString: urlOf(DB), max: 2 });
try {
  const email = betterEmail({ ...emailSection(randomBytes(32).toString("base64")), database: sqlEmailAdapter(pool, { prepare: process.env.BENCH_PREPARE === "1" }), transport: captureTransport(), templates: { order } });
  await pool.query(email.migrationSql(1));
  await pool.query("CREATE TABLE orders (id bigserial PRIMARY KEY, tenant_id uuid NOT NULL, customer text NOT NULL)");
  const c = await pool.connect();
  const mail = (i) => email.send({ template: "order", to: `customer${i}@example.com`, props: props(i) }, { tx: c });
  /** One application transaction: a tenant scope and an order row, then `extra(i)` if given. */
  async function transaction(i, extra) {
    const t0 = performance.now();
    await c.query("BEGIN");
    await c.query("SELECT set_config('app.current_tenant', $1, true)", [TENANT]);
    await c.query("INSERT INTO orders (tenant_id, customer) VALUES ($1, $2)", [TENANT, `customer${i}@example.com`]);
    if (extra) await extra(i);
    await c.query("COMMIT");
    return performance.now() - t0;
  }
  // send()'s one statement as the package sent it, replayed with fresh ids: what the schema's
  // write (suppression check, message and recipient rows) costs before any of the package's work.
  let statement;
  await transaction(0, async (i) => (statement = await captureStatement(c, () => mail(i))));
  const replay = () => c.query({ ...statement, values: freshIds(statement.values) });
  const plain = [];
  const mailed = [];
  const replayed = [];
  for (let i = 0; i < 200; i++) await transaction(i, i % 2 === 0 ? mail : undefined);
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved, so that all see the same table sizes, caches and machine load.
    plain.push(await transaction(i));
    mailed.push(await transaction(i, mail));
    replayed.push(await transaction(i, replay));
  }
  c.release();
  const added = median(mailed) - median(plain);
  console.log(
    `E21 send() with a code template: transaction p50 ${f(median(mailed), 3)} ms against ${f(median(plain), 3)} ms without, ` +
      `adds ${f(added, 3)} ms (gate <= 0.5: ${added <= 0.5 ? "pass" : "FAIL"}), ${f(ROUNDS)} of each; ` +
      `its statement alone (replayed, no package code) adds ${f(median(replayed) - median(plain), 3)} ms`,
  );
  const inputs = Array.from({ length: 1_000 }, (_, i) => props(i));
  const renders = await rate((i) => order.render(inputs[i % 1_000]));
  console.log(`E21 code template renders: ${f(renders)}/s (gate >= 20,000: ${renders >= 20_000 ? "pass" : "FAIL"})`);
  const messages = Array.from({ length: 1_000 }, (_, i) => {
    const m = message(i);
    return { from: FROM, to: m.to, subject: m.subject, html: m.html, text: m.text, messageId: `${i}@acme.example`, dateMs: 1_800_000_000_000 };
  });
  const builds = await rate((i) => core.emailBuildMessage(messages[i % 1_000]));
  console.log(`E21 MIME builds of a 4 KiB message: ${f(builds)}/s (gate >= 20,000: ${builds >= 20_000 ? "pass" : "FAIL"})`);
  // A stored override of `order` as `templates.save` keeps it: static markup around the loop, 5 KiB.
  const pad = "<p style=\"margin:0 0 12px 0;font-family:Helvetica,Arial,sans-serif\">Our store policies apply to every order.</p>\n";
  const body = `<h1>Thanks for your order, {{ name }}!</h1><table>{% for i in items %}<tr><td>{{ i.name }}</td><td>{{ i.price }}</td></tr>{% endfor %}</table><p>{{ note }}</p>\n`;
  const stored = { locale: "", version: 1, subject: "Your order #{{ number }} is confirmed", html: body + pad.repeat(Math.ceil((5_120 - body.length) / pad.length)), text_body: null };
  const compiled = new emailCore.Email({ ...emailSection(randomBytes(32).toString("base64")), transports: ["capture"], templates: { order: { editable: true } } });
  const previews = inputs.map((p) => ({ name: "order", props: p }));
  const dbRenders = await rate((i) => compiled.templateResult("preview", previews[i % 1_000], [stored]));
  console.log(`E21 database template (${f(stored.html.length)} B, minijinja) renders: ${f(dbRenders)}/s (gate >= 5,000: ${dbRenders >= 5_000 ? "pass" : "FAIL"})`);
  // The text part a template without one gets: the 4 KiB order confirmations' HTML.
  const pages = messages.map((m) => m.html);
  const mb = pages.reduce((n, h) => n + Buffer.byteLength(h), 0) / pages.length / 1e6;
  const texts = await rate((i) => core.emailHtmlToText(pages[i % 1_000]));
  console.log(`E21 htmlToText of a 4 KiB HTML part: ${f(texts * mb, 1)} MB/s (gate >= 10: ${texts * mb >= 10 ? "pass" : "FAIL"})`);
} finally {
  await pool.end();
  await a.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await a.end();
}
