// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Senders and their DNS readiness (spec §11, E17's `check --dns`), against real PostgreSQL with
// row-level security on and a DNS server on 127.0.0.1 that node:dns's Resolver asks: six fixture
// domains, one per way a sender's records go wrong (or right), judged by the core for SPF, DKIM,
// DMARC and alignment; a pass verifies the sender, a failure unverifies it, a failed lookup
// leaves it as it was; a tenant sees only its own senders; bad input names its field and writes
// nothing. The CLI's side: email-senders-cli.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { drizzleEmailAdapter } from "@usebetterdev/email/drizzle";
import pg from "pg";
import core from "@usebetter-rs/core";
import { APP_GRANTS, connectAs, OWNER, ownedDatabase, requireEnv } from "./helpers/db.mjs";
import { asSystem } from "./helpers/webhooks.mjs";
import { dnsServer } from "./helpers/dns-server.mjs";
import { rejectsWith } from "./helpers/errors.mjs";
import { EXPECTED, FIXTURES, publishToken, senderEmail, ZONE } from "./helpers/senders.mjs";

const A = randomUUID();
const B = randomUUID();
let db, pool, email, tenant, dns;

const uuidOf = (id) => core.webhookId("email", id, false);
const statuses = (s) => s.dns.checks.map((c) => c.status);
const count = async () => Number((await asSystem(pool, "SELECT count(*) AS n FROM email_senders"))[0].n);
const rejects = (p, code, field) => rejectsWith(p, code, field && new RegExp(field.replace(/[.[\]]/g, "\\$&")));


before(async () => {
  dns = await dnsServer(ZONE);
  // Owned by a migration role, used by `app` (so `check` passes but for what it is about).
  const owned = await ownedDatabase("email_senders", (c) =>
    c.query("CREATE TABLE tenants (id uuid PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())"),
  );
  const u = new URL(requireEnv("DATABASE_URL"));
  pool = new pg.Pool({ connectionString: `postgres://app:app@${u.hostname}:${u.port}/${owned.name}`, max: 4 });
  db = {
    async drop() {
      await pool.end();
      await owned.drop();
    },
  };
  email = senderEmail(drizzleEmailAdapter(drizzle(pool)), { resolver: dns.resolver() });
  const owner = await connectAs(OWNER.user, OWNER.password, owned.name);
  await owner.query(email.migrationSql(1));
  await owner.query(APP_GRANTS);
  for (const [i, id] of [A, B].entries()) await owner.query("INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $2)", [id, `t${i}`]);
  await owner.end();
  tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" } });
});

after(async () => {
  await db?.drop();
  await dns?.close();
});

const created = {};

test("six fixture domains: each check of each sender is judged from the records the resolver returns", async () => {
  for (const f of FIXTURES) {
    const s = await tenant.runAs(A, () => email.senders.create(f));
    assert.equal(s.tenantId, A);
    assert.equal(s.verifiedAt, null);
    assert.equal(s.dns, null);
    assert.match(s.expect.token, /^[0-9a-f]{32}$/);
    created[f.address ?? f.domain] = s;
    publishToken(s);
  }
  assert.equal(created["ready.example"].expect.envelopeDomain, "send.ready.example");
  assert.equal(created["news@mg.twospf.example"].domain, "mg.twospf.example");
  assert.equal(created["flaky.example"].expect.kind, "smtp");
  for (const [name, s] of Object.entries(created)) {
    const v = await tenant.runAs(A, () => email.senders.verify(s.id));
    assert.deepEqual(statuses(v), EXPECTED[name], `${name}: ${JSON.stringify(v.dns.checks, null, 1)}`);
    assert.equal(v.verifiedAt !== null, name === "ready.example", name);
    assert.equal(v.dns.inconclusive, name === "flaky.example", name);
  }
  const ready = (await tenant.runAs(A, () => email.senders.list())).find((s) => s.domain === "ready.example");
  assert.equal(ready.dns.dmarcPolicy, "reject");
  assert.equal(ready.default, false);
  const details = Object.fromEntries((await tenant.runAs(A, () => email.senders.list())).map((s) => [s.address ?? s.domain, s.dns]));
  assert.match(details["nospf.example"].checks[1].detail, /does not include sendgrid\.net/);
  assert.match(details["nospf.example"].checks[1].fix, /include:sendgrid\.net/);
  assert.match(details["news@mg.twospf.example"].checks[1].detail, /2 v=spf1 records/);
  assert.equal(details["news@mg.twospf.example"].dmarcPolicy, "quarantine");
  assert.match(details["nodmarc.example"].checks[3].detail, /_dmarc\.nodmarc\.example/);
  assert.match(details["unaligned.example"].checks[4].detail, /not amazonses\.com/);
  assert.match(details["flaky.example"].checks[1].detail, /ETIMEOUT|ECONNREFUSED|timed out/i);
  // Every name was asked of the loopback server.
  assert.ok(dns.queries.includes("TXT send.ready.example") && dns.queries.includes("CNAME s1._domainkey.nospf.example"));
});

test("a later failure unverifies a sender; a failed lookup leaves its verification as it was", async () => {
  const id = created["ready.example"].id;
  const before = (await tenant.runAs(A, () => email.senders.list())).find((s) => s.id === id).verifiedAt;
  assert.ok(before);
  const saved = ZONE["send.ready.example"];
  ZONE["send.ready.example"] = "servfail";
  const kept = await tenant.runAs(A, () => email.senders.verify(id));
  assert.equal(kept.verifiedAt, before);
  assert.equal(kept.dns.inconclusive, true);
  assert.match(kept.dns.checks[1].detail, /ESERVFAIL/);
  ZONE["send.ready.example"] = saved;
  const dkim = ZONE["resend._domainkey.ready.example"];
  delete ZONE["resend._domainkey.ready.example"];
  const broken = await tenant.runAs(A, () => email.senders.verify(id));
  assert.equal(broken.verifiedAt, null);
  assert.deepEqual(statuses(broken), ["pass", "pass", "fail", "pass", "fail"]);
  ZONE["resend._domainkey.ready.example"] = dkim;
  const again = await tenant.runAs(A, () => email.senders.verify(id));
  assert.ok(again.verifiedAt);
  // A failed lookup beside a definite failure is a failure: making one name unresolvable does
  // not keep a broken sender verified.
  ZONE["send.ready.example"] = "servfail";
  delete ZONE["resend._domainkey.ready.example"];
  const mixed = await tenant.runAs(A, () => email.senders.verify(id));
  ZONE["send.ready.example"] = saved;
  ZONE["resend._domainkey.ready.example"] = dkim;
  assert.deepEqual(statuses(mixed), ["pass", "error", "fail", "pass", "fail"]);
  assert.equal(mixed.dns.inconclusive, false);
  assert.equal(mixed.verifiedAt, null);
  assert.ok((await tenant.runAs(A, () => email.senders.verify(id))).verifiedAt);
});

test("a domain another tenant verified is not verified for a tenant that did not publish its own token", async () => {
  // B claims A's ready.example, whose provider records are all in place.
  const claim = await tenant.runAs(B, () => email.senders.create({ domain: "ready.example", transport: "resend" }));
  const v = await tenant.runAs(B, () => email.senders.verify(claim.id));
  assert.deepEqual(statuses(v), ["fail", "pass", "pass", "pass", "pass"]);
  assert.equal(v.verifiedAt, null);
  assert.match(v.dns.checks[0].fix, new RegExp(`_usebetter\\.ready\\.example: "usebetter-verification=${claim.expect.token}"`));
  await rejects(tenant.runAs(B, () => email.send({ to: "jane@example.com", subject: "Hi", text: "x", from: "ceo@ready.example" })), "EMAIL_SENDER_NOT_VERIFIED", "from");
  // DNS options of the tenant's choosing do not help: the token is asked of the From domain.
  const victim = await tenant.runAs(B, () =>
    email.senders.create({ domain: "victim.example", transport: "relay", dns: { envelopeDomain: "ready.example", spfInclude: "amazonses.com", dkimSelectors: ["resend"], dkimDomain: "ready.example" } }),
  );
  const w = await tenant.runAs(B, () => email.senders.verify(victim.id));
  assert.equal(w.verifiedAt, null);
  assert.equal(w.dns.checks[0].status, "fail");
  for (const s of [claim, victim]) assert.equal(await tenant.runAs(B, () => email.senders.remove(s.id)), true);
});

test("a tenant sees, verifies and removes only its own senders; an operator acts for one with { tenantId }", async () => {
  const id = created["nospf.example"].id;
  assert.deepEqual(await tenant.runAs(B, () => email.senders.list()), []);
  await rejects(tenant.runAs(B, () => email.senders.verify(id)), "EMAIL_NOT_FOUND", id);
  assert.equal(await tenant.runAs(B, () => email.senders.remove(id)), false);
  // Outside a scope: every tenant's, or one tenant's.
  assert.equal((await email.senders.list()).length, 6);
  assert.equal((await email.senders.list({}, { tenantId: B })).length, 0);
  const forB = await email.senders.create({ address: "billing@b.example" }, { tenantId: B });
  assert.equal(forB.tenantId, B);
  // With routed transports and none named, the provider is not known: no SPF include asked for.
  assert.equal(forB.expect.kind, null);
  assert.equal(forB.expect.spfInclude, null);
  assert.equal(await email.senders.remove(forB.id, { tenantId: A }), false);
  assert.equal(await tenant.runAs(B, () => email.senders.remove(forB.id)), true);
  // A new default takes over once verified; until then the old one stays (and another
  // tenant's is its own business).
  const defaults = async () => (await email.senders.list()).filter((s) => s.default).map((s) => s.id).sort();
  const first = await tenant.runAs(A, () => email.senders.create({ address: "a@ready.example", default: true, transport: "resend" }));
  const bDefault = await tenant.runAs(B, () => email.senders.create({ address: "b@other.example", default: true }));
  const second = await tenant.runAs(A, () => email.senders.create({ address: "b@ready.example", default: true, transport: "resend" }));
  for (const s of [first, second]) publishToken(s);
  assert.ok((await tenant.runAs(A, () => email.senders.verify(first.id))).verifiedAt);
  assert.deepEqual(await defaults(), [first.id, bDefault.id, second.id].sort());
  assert.ok((await tenant.runAs(A, () => email.senders.verify(second.id))).verifiedAt);
  assert.deepEqual(await defaults(), [bDefault.id, second.id].sort());
  for (const [t, s] of [[A, first], [A, second], [B, bDefault]]) assert.equal(await tenant.runAs(t, () => email.senders.remove(s.id)), true);
});

test("bad input names its field and writes nothing", async () => {
  const n = await count();
  const inA = (input) => tenant.runAs(A, () => email.senders.create(input));
  await rejects(inA({}), "EMAIL_INVALID_ARGUMENT", "domain");
  await rejects(inA({ domain: "localhost" }), "EMAIL_INVALID_ARGUMENT", "domain");
  await rejects(inA({ domain: "bücher.example" }), "EMAIL_INVALID_ARGUMENT", "xn--");
  await rejects(inA({ address: "not an address" }), "EMAIL_INVALID_ADDRESS", "address");
  await rejects(inA({ domain: "a.example", address: "x@b.example" }), "EMAIL_INVALID_ARGUMENT", "domain");
  await rejects(inA({ domain: "a.example", displayName: "Acme\r\nBcc: x@evil.example" }), "EMAIL_INVALID_HEADER", "displayName");
  await rejects(inA({ domain: "a.example", transport: "nope" }), "EMAIL_INVALID_ARGUMENT", "transport");
  await rejects(inA({ domain: "a.example", dns: { dkimSelectors: ["ok", "not ok"] } }), "EMAIL_INVALID_ARGUMENT", "dns.dkimSelectors[1]");
  await rejects(inA({ domain: "a.example", dns: { spfInclude: "bad include" } }), "EMAIL_INVALID_ARGUMENT", "dns.spfInclude");
  await rejects(inA({ domain: "a.example", dns: { selectors: ["x"] } }), "EMAIL_INVALID_ARGUMENT", "dns");
  await rejects(inA({ domain: "a.example", colour: "red" }), "EMAIL_INVALID_ARGUMENT", "colour");
  await rejects(inA({ domain: "a.example", default: true }), "EMAIL_INVALID_ARGUMENT", "default");
  await rejects(inA({ address: "a@a.example", default: "yes" }), "EMAIL_INVALID_ARGUMENT", "default");
  await rejects(inA(null), "EMAIL_INVALID_ARGUMENT", "input");
  // A tenant's sender needs a tenant; a global one, system context.
  await rejects(email.senders.create({ domain: "a.example" }), "EMAIL_TENANT_REQUIRED", "senders.create");
  await rejects(inA({ domain: "a.example", scope: "global" }), "EMAIL_INVALID_ARGUMENT", "scope");
  await rejects(tenant.runAs(A, () => email.senders.verify("not-a-uuid")), "EMAIL_INVALID_ARGUMENT", "id");
  assert.equal(await count(), n);
  const global = await email.senders.create({ domain: "acme.example", scope: "global" });
  assert.equal(global.tenantId, null);
  assert.equal(await email.senders.remove(global.id), true);
});

test("send(): a `from` no verified sender of the tenant covers is refused, naming the field, and writes nothing; senders.fallback: \"app\" sends it from the app", async () => {
  const message = (from, extra = {}) => ({ to: "jane@example.com", subject: "Hi", text: "x", from, ...extra });
  const sendAs = (t, from, extra) => tenant.runAs(t, () => email.send(message(from, extra)));
  const messages = async () => Number((await asSystem(pool, "SELECT count(*) AS n FROM email_messages"))[0].n);
  // ready.example is A's and verified: any address at it; the app's own domain needs no sender.
  assert.equal((await sendAs(A, "Billing <Billing@Ready.example>")).status, "queued");
  assert.equal((await sendAs(B, "support@acme.example")).status, "queued");
  assert.equal((await sendAs(B)).status, "queued");
  const n = await messages();
  // nospf.example is A's but not verified; ready.example is not B's; evil.example is no one's.
  await rejects(sendAs(A, "x@nospf.example"), "EMAIL_SENDER_NOT_VERIFIED", "`from`");
  await rejects(sendAs(B, "billing@ready.example"), "EMAIL_SENDER_NOT_VERIFIED", "senders.create");
  await rejects(
    tenant.runAs(A, () => email.sendMany([message("a@ready.example"), message("x@evil.example", { idempotencyKey: "k-evil" })])),
    "EMAIL_SENDER_NOT_VERIFIED",
    "inputs[1].from",
  );
  // An address sender covers only its address; this one is not verified either.
  await rejects(sendAs(A, "news@mg.twospf.example"), "EMAIL_SENDER_NOT_VERIFIED", "from");
  assert.equal(await messages(), n);
  assert.equal(Number((await asSystem(pool, "SELECT count(*) AS n FROM email_idempotency_keys"))[0].n), 0);

  const fallback = senderEmail(drizzleEmailAdapter(drizzle(pool)), { fallback: "app" });
  const sent = await tenant.runAs(B, () => fallback.send(message("Billing <billing@ready.example>")));
  assert.equal(sent.status, "queued");
  const kept = await tenant.runAs(A, () => fallback.send(message("a@ready.example", { replyTo: "help@ready.example" })));
  assert.equal(kept.status, "queued");
  const stored = async (id) => (await asSystem(pool, "SELECT from_addr, reply_to FROM email_messages WHERE id = $1", [uuidOf(id)]))[0];
  // Not B's sender: from the app, the address asked for as Reply-To.
  const fb = await stored(sent.id);
  assert.match(fb.from_addr, /hello@acme\.example/);
  assert.equal(fb.reply_to.length, 1);
  assert.match(fb.reply_to[0], /billing@ready\.example/);
  // A's verified sender: as asked, its own Reply-To kept.
  const own = await stored(kept.id);
  assert.match(own.from_addr, /a@ready\.example/);
  assert.match(own.reply_to.join(","), /help@ready\.example/);
  await rejects(
    Promise.resolve().then(() => senderEmail(drizzleEmailAdapter(drizzle(pool)), { fallback: "tenant" })),
    "EMAIL_INVALID_CONFIG",
    "senders.fallback",
  );
});

test("a tenant's send without `from` goes from its default verified sender; an unverified default, or none, leaves the app's", async () => {
  const messages = async (id) => (await asSystem(pool, "SELECT from_addr, headers FROM email_messages WHERE id = $1", [uuidOf(id)]))[0];
  const plain = { to: "jane@example.com", subject: "Hi", text: "x" };
  const team = await tenant.runAs(A, () => email.senders.create({ address: "Team@ready.example", displayName: "Ready, Team", default: true, transport: "resend" }));
  publishToken(team);
  // Not verified yet: the app's from.
  assert.match((await messages((await tenant.runAs(A, () => email.send(plain))).id)).from_addr, /hello@acme\.example/);
  assert.ok((await tenant.runAs(A, () => email.senders.verify(team.id))).verifiedAt);
  const sent = await tenant.runAs(A, () => email.sendMany([plain, { ...plain, from: "support@acme.example" }]));
  const [first, second] = await Promise.all(sent.map((r) => messages(r.id)));
  assert.equal(first.from_addr, "Team@ready.example");
  assert.deepEqual(first.headers.from, { address: "Team@ready.example", name: "Ready, Team" });
  // An explicit from stays.
  assert.equal(second.from_addr, "support@acme.example");
  // Another tenant keeps the app's.
  assert.equal((await messages((await tenant.runAs(B, () => email.send(plain))).id)).from_addr, "hello@acme.example");
  assert.equal(await tenant.runAs(A, () => email.senders.remove(team.id)), true);
});

test("an idempotent retry is a duplicate whatever became of its sender meanwhile (the key compares the request as given)", async () => {
  const fallback = senderEmail(drizzleEmailAdapter(drizzle(pool)), { fallback: "app", resolver: dns.resolver() });
  const later = await tenant.runAs(A, () => fallback.senders.create({ domain: "later.example", transport: "resend" }));
  const m = { to: "jane@example.com", subject: "Hi", text: "x", from: "a@later.example", idempotencyKey: "k-later" };
  const first = await tenant.runAs(A, () => fallback.send(m));
  assert.equal(first.status, "queued");
  publishToken(later);
  ZONE["send.later.example"] = { TXT: ["v=spf1 include:amazonses.com -all"] };
  ZONE["_dmarc.later.example"] = { TXT: ["v=DMARC1; p=none"] };
  ZONE["resend._domainkey.later.example"] = { TXT: ["p=MIGf"] };
  assert.ok((await tenant.runAs(A, () => fallback.senders.verify(later.id))).verifiedAt);
  const again = await tenant.runAs(A, () => fallback.send(m));
  assert.deepEqual([again.status, again.id], ["duplicate", first.id]);
});
