// suite: once (scripts/test.sh runs it once; better-email is the native addon)
// better-email's side of senders (spec §11, E17): `senders list`, `senders verify <id>` and
// `check --dns` against the six fixture domains on a DNS server on 127.0.0.1 (`--dns-server`,
// node:dns underneath): the same verdicts as the API, the verified sender's failures fail the
// check (exit 1, with the fix), the others' are warnings; the check writes nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { sqlEmailAdapter } from "@usebetterdev/email/sql";
import { runCli } from "@usebetterdev/email-cli";
import { APP_GRANTS, connectAs, freshDatabase, OWNER, ownedDatabase, requireEnv } from "./helpers/db.mjs";
import { dnsServer } from "./helpers/dns-server.mjs";
import { EXPECTED, FIXTURES, publishToken, senderEmail, ZONE } from "./helpers/senders.mjs";

const A = randomUUID();
const CONFIG = { tenant: { tenantTables: [] }, email: {} };
const created = {};
let owned, pool, email, dns, urlOf;

before(async () => {
  dns = await dnsServer(ZONE);
  owned = await ownedDatabase("email_senders_cli");
  const u = new URL(requireEnv("DATABASE_URL"));
  urlOf = (user, password) => `postgres://${user}:${password}@${u.hostname}:${u.port}/${owned.name}`;
  const migrated = await runCli(["migrate"], { env: { DATABASE_URL: urlOf(OWNER.user, OWNER.password) }, config: CONFIG });
  assert.equal(migrated.code, 0, migrated.stderr);
  const owner = await connectAs(OWNER.user, OWNER.password, owned.name);
  await owner.query(APP_GRANTS);
  await owner.end();
  pool = new pg.Pool({ connectionString: urlOf("app", "app"), max: 2 });
  email = senderEmail(sqlEmailAdapter(pool), { resolver: dns.resolver() });
  // The API creates the senders of tenant A and verifies the ready one.
  for (const f of FIXTURES) {
    created[f.address ?? f.domain] = await email.senders.create(f, { tenantId: A });
    publishToken(created[f.address ?? f.domain]);
  }
  assert.ok((await email.senders.verify(created["ready.example"].id, { tenantId: A })).verifiedAt);
});

after(async () => {
  await pool?.end();
  await owned?.drop();
  await dns?.close();
});

test("better-email senders list|verify and check --dns: the same verdicts, exit 1 on a verified sender that fails", async () => {
  const cli = (args) => runCli(args, { env: { DATABASE_URL: urlOf("app", "app") }, config: CONFIG });
  const list = await cli(["senders", "list", "--tenant", A]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^6 senders\n/);
  assert.match(list.stdout, new RegExp(`${created["ready.example"].id}  ${A}  ready\\.example  resend  verified `));
  assert.match(list.stdout, /nospf\.example {2}sendgrid {2}not verified/);

  const server = ["--dns-server", dns.address];
  const ok = await cli(["senders", "verify", created["ready.example"].id, ...server]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /ready\.example: verified/);
  assert.match(ok.stdout, /✓ sender .* DMARC — _dmarc\.ready\.example: p=reject/);
  const bad = await cli(["senders", "verify", created["nodmarc.example"].id, ...server, "--json"]);
  assert.equal(bad.code, 1);
  const out = JSON.parse(bad.stdout);
  assert.equal(out.sender.verifiedAt, null);
  assert.deepEqual(out.sender.dns.checks.map((c) => c.status), EXPECTED["nodmarc.example"]);
  const missing = await cli(["senders", "verify", randomUUID(), ...server]);
  assert.equal(missing.code, 1);
  assert.equal(missing.errorCode, "EMAIL_NOT_FOUND");

  // Only ready.example is verified: the others' failures are warnings, and the check passes.
  const pass = await cli(["check", "--dns", ...server]);
  assert.equal(pass.code, 0, pass.stdout);
  assert.match(pass.stdout, /✓ sender \S+ ready\.example \(resend, verified\): SPF — send\.ready\.example includes amazonses\.com/);
  assert.match(pass.stdout, /⚠ sender \S+ nospf\.example \(sendgrid, not verified\): SPF — nospf\.example's record/);
  assert.match(pass.stdout, /⚠ sender \S+ unaligned\.example \(ses, not verified\): alignment/);
  assert.match(pass.stdout, /⚠ sender \S+ flaky\.example \(smtp, not verified\): SPF — the lookup of flaky\.example failed/);
  // The verified sender's DKIM key goes: the check fails and names the fix.
  const dkim = ZONE["resend._domainkey.ready.example"];
  delete ZONE["resend._domainkey.ready.example"];
  const fail = await cli(["check", "--dns", ...server, "--json"]);
  ZONE["resend._domainkey.ready.example"] = dkim;
  assert.equal(fail.code, 1);
  const report = JSON.parse(fail.stdout);
  const failed = report.results.filter((r) => !r.passed).map((r) => r.check);
  assert.deepEqual(failed.map((c) => c.replace(/^sender \S+ /, "")), ["ready.example (resend, verified): DKIM", "ready.example (resend, verified): alignment"]);
  assert.match(report.next, /publish the DKIM records/);
  // The check itself wrote nothing: the sender is still verified.
  assert.ok((await email.senders.list({}, { tenantId: A })).find((s) => s.domain === "ready.example").verifiedAt);
  // On a database without the tables the report says so, and the senders wait for them.
  const empty = await freshDatabase("email_senders_cli_empty");
  try {
    const bare = await runCli(["check", "--dns", ...server], { env: { DATABASE_URL: urlOf("app", "app").replace(owned.name, empty.name) }, config: CONFIG });
    assert.equal(bare.code, 1);
    assert.match(bare.stdout, /✗ email tables exist/);
    assert.match(bare.stdout, /⚠ senders' DNS not checked — the email tables are missing or outdated\n\s+fix: run `better-email migrate`/);
  } finally {
    await empty.drop();
  }
  const badServer = await cli(["check", "--dns", "--dns-server", "dns.example"]);
  assert.equal(badServer.code, 2);
  assert.match(badServer.stderr, /--dns-server "dns\.example"/);
});
