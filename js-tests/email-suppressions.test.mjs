// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The suppression list as an API (spec §10.4) and erasure, against real PostgreSQL with
// row-level security on (as a role without BYPASSRLS): a tenant scope adds, checks, lists and
// removes its own entries and never sees another tenant's or the global ones (though `check` and
// `send()` honour global entries); an operator acts for one tenant with `{ tenantId }` or on the
// global entries with `scope: "global"`, and is refused without either; bad input names its field
// and writes nothing; pages follow a cursor; export and import round-trip; `erase()` removes an
// address's data while its suppressions keep blocking it by hash.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";
import { betterEmail } from "@usebetterdev/email";
import { drizzleEmailAdapter } from "@usebetterdev/email/drizzle";
import { captureTransport } from "@usebetterdev/email/testing";
import { AUDIT_CAPTURE_IN } from "@usebetter-rs/core/shared";
import { requireEnv } from "./helpers/db.mjs";
import { auditCli, project } from "./helpers/cli.mjs";
import { webhooksDatabase, inTenant as inTenantOf, asSystem, transaction } from "./helpers/webhooks.mjs";

const A = randomUUID();
const B = randomUUID();
const S = randomUUID();
const D = randomUUID();
let db, pool, email, tenant;

const inTenant = (t, fn) => inTenantOf(pool, t, fn);
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const count = async () => Number((await asSystem(pool, "SELECT count(*) AS n FROM email_suppressions"))[0].n);
const rejects = (p, code, field) =>
  assert.rejects(p, (err) => {
    assert.equal(err.code, code, err.message);
    if (field) assert.match(err.message, new RegExp(field.replace(/[.[\]]/g, "\\$&")));
    return true;
  });

before(async () => {
  db = await webhooksDatabase("email_suppressions");
  pool = db.pool;
  email = betterEmail({
    database: drizzleEmailAdapter(drizzle(pool)),
    transport: captureTransport(),
    from: "Acme <hello@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
  });
  await pool.query(email.migrationSql(1));
  await pool.query("CREATE TABLE tenants (id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())");
  for (const [i, id] of [A, B, S, D].entries()) await pool.query("INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)", [id, `t${i}`]);
  tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
});

after(async () => {
  await db?.drop();
});

test("a tenant scope adds, checks, lists and removes its own entries; the other tenant sees none of them", async () => {
  const added = await tenant.runAs(A, () => email.suppressions.add({ address: "Jane@Example.COM", note: "asked by phone" }));
  assert.equal(added.added, true);
  assert.equal(added.suppression.tenantId, A);
  assert.equal(added.suppression.reason, "manual");
  assert.equal(added.suppression.source, "api");
  assert.equal(added.suppression.note, "asked by phone");
  assert.equal(added.suppression.category, null);
  // The same entry again adds nothing.
  assert.equal((await tenant.runAs(A, () => email.suppressions.add({ address: "jane@example.com" }))).added, false);

  assert.deepEqual(await tenant.runAs(A, () => email.suppressions.check("JANE@example.com")), { suppressed: true, reason: "manual" });
  assert.deepEqual(await tenant.runAs(B, () => email.suppressions.check("jane@example.com")), { suppressed: false, reason: null });
  // On the caller's own transaction too.
  assert.deepEqual(await inTenant(A, (c) => email.suppressions.check("jane@example.com", { tx: c })), { suppressed: true, reason: "manual" });

  // send() agrees: suppressed for A, queued for B.
  const sent = async (t) => (await inTenant(t, (c) => email.send({ to: "jane@example.com", subject: "Hi", text: "x" }, { tx: c }))).status;
  assert.equal(await sent(A), "suppressed");
  assert.equal(await sent(B), "queued");

  const listA = await tenant.runAs(A, () => email.suppressions.list());
  assert.deepEqual(listA.data.map((s) => s.id), [added.suppression.id]);
  assert.equal(listA.nextCursor, null);
  assert.deepEqual((await tenant.runAs(B, () => email.suppressions.list())).data, []);
  // B cannot remove A's entry.
  assert.equal((await tenant.runAs(B, () => email.suppressions.remove({ address: "jane@example.com" }))).removed, 0);

  const removed = await tenant.runAs(A, () => email.suppressions.remove({ address: "jane@example.com" }));
  assert.equal(removed.removed, 1);
  assert.equal(removed.suppressions[0].id, added.suppression.id);
  assert.equal((await tenant.runAs(A, () => email.suppressions.check("jane@example.com"))).suppressed, false);
  assert.equal(await sent(A), "queued");
});

test("global entries: added by the operator only, honoured in every tenant, listed to no tenant", async () => {
  const g = await email.suppressions.add({ address: "gone@example.com", reason: "hard_bounce", scope: "global" });
  assert.equal(g.added, true);
  assert.equal(g.suppression.tenantId, null);
  for (const t of [A, B]) {
    assert.deepEqual(await tenant.runAs(t, () => email.suppressions.check("gone@example.com")), { suppressed: true, reason: "hard_bounce" });
    assert.equal((await tenant.runAs(t, () => email.suppressions.list())).data.some((s) => s.address === "gone@example.com"), false);
  }
  // Outside any scope, check() without a tenant counts the global entries only.
  assert.deepEqual(await email.suppressions.check("gone@example.com"), { suppressed: true, reason: "hard_bounce" });
  assert.deepEqual((await email.suppressions.list({ scope: "global" })).data.map((s) => s.id), [g.suppression.id]);

  // A tenant scope cannot write a global entry, through the ambient scope or its own transaction.
  const before = await count();
  await rejects(tenant.runAs(A, () => email.suppressions.add({ address: "x@example.com", scope: "global" })), "EMAIL_INVALID_ARGUMENT", "scope");
  await rejects(inTenant(A, (c) => email.suppressions.add({ address: "x@example.com", scope: "global" }, { tx: c })), "EMAIL_INVALID_ARGUMENT", "scope");
  await rejects(tenant.runAs(A, () => email.suppressions.remove({ address: "gone@example.com", scope: "global" })), "EMAIL_INVALID_ARGUMENT", "scope");
  // Outside a scope, a tenant's entry needs its tenant.
  await rejects(email.suppressions.add({ address: "x@example.com" }), "EMAIL_TENANT_REQUIRED", "tenantId");
  await rejects(email.suppressions.list(), "EMAIL_TENANT_REQUIRED");
  // And a system-context transaction of the caller's without `tenantId` is refused by the statement's verdict.
  await rejects(
    asSystemTx((c) => email.suppressions.add({ address: "x@example.com" }, { tx: c })),
    "EMAIL_TENANT_REQUIRED",
  );
  assert.equal(await count(), before);

  const removed = await email.suppressions.remove({ address: "gone@example.com", scope: "global" });
  assert.equal(removed.removed, 1);
  assert.equal((await tenant.runAs(A, () => email.suppressions.check("gone@example.com"))).suppressed, false);
});

const asSystemTx = (fn) => transaction(pool, { "app.bypass_rls": "true" }, fn);

test("the operator acts for one tenant with { tenantId }; a tenant scope cannot name another", async () => {
  const r = await email.suppressions.add({ address: "op@example.com", reason: "complaint", category: "marketing" }, { tenantId: B });
  assert.equal(r.suppression.tenantId, B);
  assert.equal(r.suppression.category, "marketing");
  assert.deepEqual((await email.suppressions.list({}, { tenantId: B })).data.map((s) => s.address), ["op@example.com"]);
  assert.deepEqual((await email.suppressions.list({}, { tenantId: A })).data, []);
  // check() with { tenantId } answers for that tenant, outside a scope and inside the system scope.
  assert.deepEqual(await email.suppressions.check("op@example.com", { tenantId: B, category: "marketing" }), { suppressed: true, reason: "complaint" });
  assert.deepEqual(await tenant.runAsSystem(() => email.suppressions.check("op@example.com", { tenantId: B, category: "marketing" })), { suppressed: true, reason: "complaint" });
  assert.equal((await email.suppressions.check("op@example.com", { tenantId: B, category: "transactional" })).suppressed, false);
  assert.equal((await email.suppressions.check("op@example.com", { tenantId: A, category: "marketing" })).suppressed, false);
  await rejects(tenant.runAs(A, () => email.suppressions.list({}, { tenantId: B })), "EMAIL_TENANT_MISMATCH");
  assert.equal((await email.suppressions.remove({ address: "op@example.com", category: "marketing" }, { tenantId: B })).removed, 1);
});

test("an unsubscribe does not hide another reason from a category that ignores unsubscribes", async () => {
  await tenant.runAs(A, async () => {
    await email.suppressions.add({ address: "both@example.com", reason: "unsubscribe" });
    // transactional ignores unsubscribes: not suppressed.
    assert.equal((await email.suppressions.check("both@example.com", { category: "transactional" })).suppressed, false);
    assert.deepEqual(await email.suppressions.check("both@example.com", { category: "marketing" }), { suppressed: true, reason: "unsubscribe" });
    await email.suppressions.add({ address: "both@example.com", reason: "manual" });
    assert.deepEqual(await email.suppressions.check("both@example.com", { category: "transactional" }), { suppressed: true, reason: "manual" });
  });
  const r = await inTenant(A, (c) => email.send({ to: "both@example.com", subject: "Receipt", text: "x", category: "transactional" }, { tx: c }));
  assert.equal(r.status, "suppressed");
  assert.equal(r.suppressed[0].reason, "manual");
});

test("bad input names its field and writes nothing", async () => {
  const before = await count();
  const inA = (fn) => tenant.runAs(A, fn);
  await rejects(inA(() => email.suppressions.add({ address: "not an address" })), "EMAIL_INVALID_ADDRESS", "address");
  await rejects(inA(() => email.suppressions.add({})), "EMAIL_INVALID_ARGUMENT", "address");
  await rejects(inA(() => email.suppressions.add({ address: "a@example.com", reason: "bogus" })), "EMAIL_INVALID_ARGUMENT", "reason");
  await rejects(inA(() => email.suppressions.add({ address: "a@example.com", category: "nope" })), "EMAIL_INVALID_ARGUMENT", "category");
  await rejects(inA(() => email.suppressions.add({ address: "a@example.com", scope: "world" })), "EMAIL_INVALID_ARGUMENT", "scope");
  await rejects(inA(() => email.suppressions.add({ address: "a@example.com", expiresAt: "soon" })), "EMAIL_INVALID_ARGUMENT", "expiresAt");
  await rejects(inA(() => email.suppressions.add({ address: "a@example.com", note: "x".repeat(2001) })), "EMAIL_INVALID_ARGUMENT", "note");
  await rejects(inA(() => email.suppressions.add({ address: "a@example.com", colour: "red" })), "EMAIL_INVALID_ARGUMENT", "colour");
  await rejects(inA(() => email.suppressions.add(null)), "EMAIL_INVALID_ARGUMENT");
  await rejects(inA(() => email.suppressions.list({ limit: 0 })), "EMAIL_INVALID_ARGUMENT", "limit");
  await rejects(inA(() => email.suppressions.list({ cursor: "not-a-cursor" })), "EMAIL_INVALID_ARGUMENT", "cursor");
  await rejects(inA(() => email.suppressions.export({ format: "xml" })), "EMAIL_INVALID_ARGUMENT", "format");
  await rejects(email.suppressions.add({ address: "a@example.com" }, { tenantId: "not-a-uuid" }), "EMAIL_INVALID_ARGUMENT", "tenantId");
  assert.equal(await count(), before);
});

test("list pages through a cursor, oldest first, filtered by reason and time", async () => {
  const T = randomUUID();
  const t0 = new Date();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await email.suppressions.add({ address: `p${i}@example.com`, reason: i % 2 ? "complaint" : "manual" }, { tenantId: T })).suppression.id);
  const seen = [];
  let cursor;
  let pages = 0;
  do {
    const page = await email.suppressions.list({ limit: 2, ...(cursor ? { cursor } : {}) }, { tenantId: T });
    assert.ok(page.data.length <= 2);
    seen.push(...page.data.map((s) => s.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  assert.deepEqual(seen, ids);
  assert.equal(pages, 3);
  assert.deepEqual((await email.suppressions.list({ reason: "complaint" }, { tenantId: T })).data.map((s) => s.address), ["p1@example.com", "p3@example.com"]);
  assert.equal((await email.suppressions.list({ since: new Date(t0.getTime() - 60_000) }, { tenantId: T })).data.length, 5);
  assert.equal((await email.suppressions.list({ since: new Date(Date.now() + 60_000) }, { tenantId: T })).data.length, 0);
});

test("export and import round-trip; import checks every row before writing and keeps a tenant to itself", async () => {
  // Two transactions: entries of one transaction share its created_at, and list by (created_at, id).
  await tenant.runAs(S, () => email.suppressions.add({ address: "one@example.com", reason: "complaint", note: "said, \"stop\"" }));
  await tenant.runAs(S, () => email.suppressions.add({ address: "two@example.com", category: "marketing", expiresAt: new Date("2031-01-02T03:04:05.678Z") }));
  const csv = await tenant.runAs(S, () => email.suppressions.export());
  const lines = csv.trim().split("\n");
  assert.equal(lines[0], "address,reason,category,tenant_id,expires_at,note");
  assert.equal(lines.length, 3);
  assert.match(csv, /one@example.com,complaint,,[0-9a-f-]{36},,"said, ""stop"""/);
  const ndjson = await email.suppressions.export({ format: "ndjson" }, { tenantId: S });
  assert.deepEqual(
    ndjson.trim().split("\n").map((l) => JSON.parse(l).address),
    ["one@example.com", "two@example.com"],
  );

  // Into tenant D: the rows name tenant S, which a D scope refuses, naming the row.
  await rejects(tenant.runAs(D, () => email.suppressions.import(csv)), "EMAIL_INVALID_ARGUMENT", "tenantId");
  const withoutTenant = csv.replace(new RegExp(S, "g"), "");
  assert.deepEqual(await tenant.runAs(D, () => email.suppressions.import(withoutTenant)), { total: 2, added: 2 });
  assert.deepEqual(await tenant.runAs(D, () => email.suppressions.import(withoutTenant)), { total: 2, added: 0 });
  const listed = (await email.suppressions.list({}, { tenantId: D })).data.sort((x, y) => x.address.localeCompare(y.address));
  assert.deepEqual(listed.map((s) => [s.address, s.reason, s.category, s.source, s.tenantId]), [
    ["one@example.com", "complaint", null, "import", D],
    ["two@example.com", "manual", "marketing", "import", D],
  ]);
  assert.equal(listed[1].expiresAt, "2031-01-02T03:04:05.678000Z");

  // Objects; the second is bad: nothing of the call is written.
  const before = await count();
  await rejects(
    email.suppressions.import([{ address: "ok@example.com" }, { address: "broken" }], { tenantId: D }),
    "EMAIL_INVALID_ADDRESS",
    "rows[1].address",
  );
  await rejects(email.suppressions.import([{ address: "ok@example.com", colour: "red" }], { tenantId: D }), "EMAIL_INVALID_ARGUMENT", "rows[0].colour");
  await rejects(email.suppressions.import(42, { tenantId: D }), "EMAIL_INVALID_ARGUMENT", "rows");
  assert.equal(await count(), before);
  assert.deepEqual(await email.suppressions.import([{ address: "ok@example.com", reason: "hard_bounce", expiresAt: new Date("2030-01-01T00:00:00Z") }], { tenantId: D }), { total: 1, added: 1 });
  assert.equal((await email.suppressions.check("ok@example.com", { tenantId: D })).reason, "hard_bounce");
});

test("erase() removes an address's data everywhere and keeps it blocked by hash", async () => {
  const sendTo = (t, to) => inTenant(t, (c) => email.send({ to, subject: "Private", html: "<p>secret</p>", text: "secret" }, { tx: c }));
  const m1 = await sendTo(A, ["erase.me@example.com", "keep@example.com"]);
  const m2 = await sendTo(B, "Erase.Me@example.com");
  await tenant.runAs(A, () => email.suppressions.add({ address: "erase.me@example.com", reason: "complaint" }));

  const counts = await email.erase("ERASE.ME@example.com");
  assert.deepEqual(counts, { addressHash: sha256("erase.me@example.com"), messages: 2, recipients: 2, attachments: 0, attempts: 0, events: 0, suppressions: 1 });

  const rcpts = await asSystem(pool, "SELECT address_key FROM email_recipients WHERE address_key IN ('erase.me@example.com', 'keep@example.com') ORDER BY 1");
  assert.deepEqual(rcpts.map((r) => r.address_key), ["keep@example.com"]);
  const msgs = await asSystem(pool, "SELECT status, subject, html, text_body FROM email_messages WHERE status IN ('cancelled') AND subject IS NULL");
  assert.equal(msgs.length, 2, `${m1.id} and ${m2.id}: queued, so cancelled, with nothing left to send`);
  for (const m of msgs) assert.deepEqual([m.html, m.text_body], [null, null]);
  const sup = await asSystem(pool, "SELECT address, encode(address_hash, 'hex') AS h FROM email_suppressions WHERE reason = 'complaint' AND tenant_id = $1 AND address IS NULL", [A]);
  assert.equal(sup.length, 1);
  // Still blocked, no longer exported.
  assert.deepEqual(await tenant.runAs(A, () => email.suppressions.check("erase.me@example.com")), { suppressed: true, reason: "complaint" });
  assert.equal((await sendTo(A, "erase.me@example.com")).status, "suppressed");
  assert.doesNotMatch(await tenant.runAs(A, () => email.suppressions.export()), /erase\.me/);
  // The suppressed send above wrote a recipient row of its own; erased too, then nothing is left.
  assert.equal((await email.erase("erase.me@example.com")).recipients, 1);
  assert.deepEqual(await email.erase("erase.me@example.com"), { addressHash: sha256("erase.me@example.com"), messages: 0, recipients: 0, attachments: 0, attempts: 0, events: 0, suppressions: 0 });
  await rejects(email.erase("erase.me@example.com", { tenantId: A }), "EMAIL_INVALID_ARGUMENT", "tenantId");
});

test("with `audit`, suppression changes and erasures are sealed audit entries written in their transaction, naming the address by hash", async () => {
  const SEAL_KEY = "email-audit-seal-key-kept-outside-the-database";
  const u = new URL(requireEnv("DATABASE_URL"));
  u.pathname = `/${db.name}`;
  const cli = (args) => auditCli(args, { cwd: project("email-audit"), env: { DATABASE_URL: u.href, AUDIT_SEAL_KEY: SEAL_KEY, USEBETTER_BINDING: "native" } });
  const migrated = await cli(["migrate"]);
  assert.equal(migrated.code, 0, migrated.stderr);
  const audit = betterAudit({ database: drizzleAuditAdapter(drizzle(pool), { seal: { key: SEAL_KEY } }), auditTables: [] });
  assert.throws(() => betterEmail({ database: drizzleEmailAdapter(drizzle(pool)), transport: captureTransport(), from: "a@acme.example", audit: {} }), (e) => e.code === "EMAIL_INVALID_CONFIG" && /`audit`/.test(e.message));
  const sink = captureTransport();
  const audited = betterEmail({
    database: drizzleEmailAdapter(drizzle(pool)),
    transport: sink,
    from: "Acme <hello@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
    audit,
  });
  const T = randomUUID();
  const added = await audit.withContext({ actorId: "alice" }, () => audited.suppressions.add({ address: "Audit.Me@example.com", reason: "complaint", note: "asked" }, { tenantId: T }));
  // Rolled back with the caller's transaction: neither the entry nor its audit entry.
  await assert.rejects(
    inTenant(T, async (c) => {
      await audited.suppressions.add({ address: "rolled.back@example.com" }, { tx: c });
      throw new Error("rolled back");
    }),
    /rolled back/,
  );
  await audit.withContext({ actorId: "bob" }, () => audited.suppressions.remove({ address: "audit.me@example.com" }, { tenantId: T }));
  await audited.suppressions.import([{ address: "imported@example.com" }], { tenantId: T });
  await audited.erase("audit.me@example.com");

  const entries = await asSystem(pool, "SELECT table_name, operation, record_id, actor_id, tenant_id, before_data, after_data, description FROM audit_logs ORDER BY tenant_id NULLS LAST, seq");
  const hash = sha256("audit.me@example.com");
  assert.deepEqual(
    entries.map((e) => [e.table_name, e.operation, e.actor_id ?? null, e.tenant_id ?? null, e.description]),
    [
      ["email_suppressions", "INSERT", "alice", T, "suppression added"],
      ["email_suppressions", "DELETE", "bob", T, "suppression removed"],
      ["email_suppressions", "INSERT", null, T, "imported 1 of 1 suppressions"],
      ["email_addresses", "DELETE", null, null, "address erased"],
    ],
  );
  assert.equal(entries[0].record_id, added.suppression.id);
  assert.equal(entries[0].after_data.addressHash, hash);
  assert.equal(entries[0].after_data.reason, "complaint");
  assert.equal(entries[1].before_data.id, added.suppression.id);
  assert.equal(entries[3].record_id, hash);
  assert.doesNotMatch(JSON.stringify(entries), /audit\.me@example|Audit\.Me|rolled\.back/i, "no address in clear in the audit trail");

  // Each message's final outcome, written in the worker's record transaction as the worker
  // (what earlier tests left queued is cancelled first: a drain hands every due message).
  await asSystem(pool, "UPDATE email_messages SET status = 'cancelled' WHERE status = 'queued'");
  const sent = await inTenant(T, (c) => audited.send({ to: "ok@example.com", subject: "s", text: "t" }, { tx: c }));
  await audited.drain({ maxMs: 10_000 });
  sink.failNext("rejected_permanent", { status: 422, detail: "refused" });
  const refused = await inTenant(T, (c) => audited.send({ to: "no@example.com", subject: "s", text: "t", category: "notifications" }, { tx: c }));
  sink.failNext("retryable", { status: 503 });
  await audited.drain({ maxMs: 10_000 });
  const later = await inTenant(T, (c) => audited.send({ to: "later@example.com", subject: "s", text: "t" }, { tx: c }));
  await audited.drain({ maxMs: 10_000 });
  const outcomes = await asSystem(pool, "SELECT record_id, actor_id, tenant_id, after_data, description FROM audit_logs WHERE table_name = 'email_messages' ORDER BY seq");
  assert.deepEqual(
    outcomes.map((e) => [e.record_id, e.actor_id, e.tenant_id, e.description, e.after_data.status, e.after_data.outcome, e.after_data.transport, e.after_data.category, e.after_data.attemptCount, e.after_data.providerStatus]),
    [
      [sent.id, "system:better-email", T, "message sent", "sent", "sent", "capture", "transactional", 1, null],
      [refused.id, "system:better-email", T, "message failed", "failed", "rejected_permanent", "capture", "notifications", 1, 422],
    ],
    "a retried message (queued again) is not final: no entry",
  );
  assert.equal((await asSystem(pool, "SELECT status FROM email_messages WHERE message_id_header = $1", [`<${later.id}@acme.example>`]))[0].status, "queued");
  const verify = await cli(["verify", "--json"]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
});

test("an audit write that fails in the worker is undone alone: the message's record stands and it is not sent again", async () => {
  await asSystem(pool, "UPDATE email_messages SET status = 'cancelled' WHERE status = 'queued'");
  const heard = [];
  const sink = captureTransport();
  // An audit store whose statement fails (a missing table): the record transaction would abort.
  const broken = { [AUDIT_CAPTURE_IN]: async (run) => run("INSERT INTO no_such_audit_table (x) VALUES (1)", []) };
  const e = betterEmail({
    database: drizzleEmailAdapter(drizzle(pool)),
    transport: sink,
    from: "Acme <hello@acme.example>",
    unsubscribe: { baseUrl: "https://app.acme.example/email/u" },
    secretsKey: randomBytes(32).toString("base64"),
    audit: broken,
    onEvent: (ev) => heard.push(ev),
  });
  const T = randomUUID();
  const m = await inTenant(T, (c) => e.send({ to: "kept@example.com", subject: "s", text: "t" }, { tx: c }));
  await e.drain({ maxMs: 10_000 });
  const [row] = await asSystem(pool, "SELECT status, attempt_count FROM email_messages WHERE message_id_header = $1", [`<${m.id}@acme.example>`]);
  assert.deepEqual(row, { status: "sent", attempt_count: 1 });
  assert.deepEqual(heard.map((ev) => [ev.type, ev.ids]), [["audit.failed", [m.id]]]);
  assert.match(heard[0].detail, /no_such_audit_table/);
  await e.drain({ maxMs: 2_000 });
  assert.equal(sink.sent().length, 1, "handed over once");
});
