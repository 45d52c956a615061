// suite: once (scripts/test.sh runs it once; the others run on each backend)
// How both CLIs connect: TLS with libpq's sslmode semantics against the private cluster with
// ssl turned on (a CA and server certificate made here with openssl), connection errors named
// by their cause, and a connection terminated in the middle of a command. Turns ssl on for the
// cluster while it runs and restores the settings and pg_hba.conf afterwards.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chownSync, copyFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import core from "@usebetter-rs/core";
import { admin, fixture, ownedDatabase, freshDatabase, requireEnv } from "./helpers/db.mjs";
import { auditCli, cli, configFile, project } from "./helpers/cli.mjs";

const port = new URL(requireEnv("DATABASE_URL")).port;
const dataDir = requireEnv("PGDATA_DIR");
const certs = mkdtempSync(join(tmpdir(), "cli-tls-"));
const tenantDir = project("cli-tls", { "better.config.ts": configFile(["projects", "tasks"]) });
const auditDir = project("cli-tls-audit");
const created = [];
let tenantDb;
let auditDb;
let hba;

const url = (db, host = "127.0.0.1", query = "") => `postgres://app:app@${host}:${port}/${db}${query ? `?${query}` : ""}`;
const ca = join(certs, "ca.crt");
const otherCa = join(certs, "other-ca.crt");
const q = (params) => new URLSearchParams(params).toString();

/** Both CLIs on one URL: `better-tenant check` and `better-audit stats`. */
async function both(target, env = {}) {
  const tenant = await cli(["check", "--database-url", url(tenantDb, ...target)], { cwd: tenantDir, env });
  const audit = await auditCli(["stats", "--database-url", url(auditDb, ...target)], { cwd: auditDir, env });
  return { tenant, audit };
}

function openssl(...args) {
  execFileSync("openssl", args, { cwd: certs, stdio: "pipe" });
}

/** A CA and, signed by it, a certificate for `localhost` only (no IP address). */
function makeCertificates() {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  for (const name of ["ca", "other-ca"]) {
    openssl("req", "-x509", ...ec, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=usebetter ${name}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  }
  openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  writeFileSync(join(certs, "server.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext");
}

/** The server's files in its data directory, readable by the OS user the cluster runs as. */
function installServerFiles() {
  const owner = process.getuid?.() === 0 ? Number(execFileSync("id", ["-u", "postgres"]).toString()) : undefined;
  for (const name of ["server.crt", "server.key"]) {
    const target = join(dataDir, `cli-tls-${name}`);
    copyFileSync(join(certs, name), target);
    chmodSync(target, 0o600);
    if (owner !== undefined) chownSync(target, owner, Number(execFileSync("id", ["-g", "postgres"]).toString()));
  }
}

async function reloadAndWait(expectSsl) {
  const a = await admin();
  await a.query("SELECT pg_reload_conf()");
  await a.end();
  for (let i = 0; i < 100; i++) {
    const c = await admin();
    const { rows } = await c.query("SHOW ssl");
    await c.end();
    if (rows[0].ssl === expectSsl) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`ssl did not become ${expectSsl} (see the server log)`);
}

async function setSsl(on) {
  const a = await admin();
  if (on) {
    await a.query(`ALTER SYSTEM SET ssl_cert_file = '${join(dataDir, "cli-tls-server.crt")}'`);
    await a.query(`ALTER SYSTEM SET ssl_key_file = '${join(dataDir, "cli-tls-server.key")}'`);
    await a.query("ALTER SYSTEM SET ssl = on");
  } else {
    for (const s of ["ssl", "ssl_cert_file", "ssl_key_file"]) await a.query(`ALTER SYSTEM RESET ${s}`);
  }
  await a.end();
  await reloadAndWait(on ? "on" : "off");
}

/**
 * Runs a CLI command that blocks on `table`, locked here; `during(pid, client)` sees its
 * backend while it waits. Returns the command's result once the lock is released.
 */
async function whileBlocked(db, table, run, during) {
  const locker = await admin(db);
  // Another session watches: inside the locker's transaction pg_stat_activity would stay as
  // it was at its first read.
  const watcher = await admin(db);
  await locker.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  let finished;
  const running = run().then((r) => (finished = r));
  try {
    let pid;
    for (let i = 0; i < 400 && !pid && !finished; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const { rows } = await watcher.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND usename = 'app' AND wait_event_type = 'Lock'", [db]);
      pid = rows[0]?.pid;
    }
    assert.ok(pid, `the command did not wait on the lock: ${JSON.stringify(finished)}`);
    await during(pid, watcher);
  } finally {
    await locker.query("ROLLBACK");
    await Promise.all([locker.end(), watcher.end()]);
  }
  return running;
}

before(async () => {
  execFileSync("openssl", ["version"]);
  makeCertificates();
  installServerFiles();
  hba = readFileSync(join(dataDir, "pg_hba.conf"), "utf8");
  const t = await ownedDatabase("cli_tls_tenant", async (c) => {
    await c.query(fixture("schema.sql"));
    await c.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"] }));
  });
  const a = await freshDatabase("cli_tls_audit");
  created.push(t, a);
  [tenantDb, auditDb] = [t.name, a.name];
  const migrated = await auditCli(["migrate", "--database-url", url(auditDb)], { cwd: auditDir });
  assert.equal(migrated.code, 0, migrated.stderr);
});

after(async () => {
  writeFileSync(join(dataDir, "pg_hba.conf"), hba);
  await setSsl(false);
  for (const name of ["server.crt", "server.key"]) rmSync(join(dataDir, `cli-tls-${name}`), { force: true });
  for (const db of created) await db.drop();
  rmSync(certs, { recursive: true, force: true });
});

test("a server without TLS: prefer (the default) connects in plain, require says the server does not accept TLS", async () => {
  for (const query of ["", "sslmode=prefer", "sslmode=disable"]) {
    const { tenant, audit } = await both(["127.0.0.1", query]);
    assert.equal(tenant.code, 0, `${query}: ${tenant.stderr}`);
    assert.equal(audit.code, 0, `${query}: ${audit.stderr}`);
  }
  const { tenant, audit } = await both(["127.0.0.1", "sslmode=require"]);
  for (const r of [tenant, audit]) {
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `the server at 127.0.0.1:${port} does not accept TLS connections (sslmode=require): turn on ssl in its postgresql.conf, or use sslmode=prefer on a network you trust\n`);
  }
});

test("sslmode=require: both CLIs connect encrypted, and the server sees TLS (pg_stat_ssl)", async () => {
  await setSsl(true);
  const { tenant, audit } = await both(["127.0.0.1", "sslmode=require"]);
  assert.equal(tenant.code, 0, tenant.stderr);
  assert.match(tenant.stdout, /All \d+ checks passed/);
  assert.equal(audit.code, 0, audit.stderr);
  assert.match(audit.stdout, /total 0 entries/);
  const ssl = async (pid, c) => (await c.query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = $1", [pid])).rows[0];
  let seen;
  const seeded = await whileBlocked(tenantDb, "tenants", () => cli(["seed", "--name", "Tls Co", "--database-url", url(tenantDb, "127.0.0.1", "sslmode=require")], { cwd: tenantDir }), async (pid, c) => (seen = await ssl(pid, c)));
  assert.equal(seeded.code, 0, seeded.stderr);
  assert.equal(seen.ssl, true);
  assert.match(seen.version, /^TLSv1\.[23]$/);
  seen = undefined;
  const stats = await whileBlocked(auditDb, "audit_logs", () => auditCli(["stats", "--database-url", url(auditDb, "127.0.0.1", "sslmode=require")], { cwd: auditDir }), async (pid, c) => (seen = await ssl(pid, c)));
  assert.equal(stats.code, 0, stats.stderr);
  assert.equal(seen.ssl, true);
  // prefer, the default, takes TLS when the server offers it.
  seen = undefined;
  await whileBlocked(auditDb, "audit_logs", () => auditCli(["stats", "--database-url", url(auditDb)], { cwd: auditDir }), async (pid, c) => (seen = await ssl(pid, c)));
  assert.equal(seen.ssl, true);
});

test("verify-full with the CA as sslrootcert connects to the certificate's host name; verify-ca checks only the chain", async () => {
  for (const [host, mode] of [["localhost", "verify-full"], ["localhost", "verify-ca"], ["127.0.0.1", "verify-ca"]]) {
    const { tenant, audit } = await both([host, q({ sslmode: mode, sslrootcert: ca })]);
    assert.equal(tenant.code, 0, `${host} ${mode}: ${tenant.stderr}`);
    assert.equal(audit.code, 0, `${host} ${mode}: ${audit.stderr}`);
  }
  // A relative sslrootcert is read from the project folder.
  copyFileSync(ca, join(tenantDir, "root.crt"));
  const relative = await cli(["check", "--database-url", url(tenantDb, "localhost", "sslmode=verify-full&sslrootcert=root.crt")], { cwd: tenantDir });
  assert.equal(relative.code, 0, relative.stderr);
});

test("verify-full refuses a host name the certificate does not list, naming the mismatch", async () => {
  const { tenant, audit } = await both(["127.0.0.1", q({ sslmode: "verify-full", sslrootcert: ca })]);
  for (const r of [tenant, audit]) {
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `TLS: the server's certificate does not match the host name "127.0.0.1" (it names localhost) (sslmode=verify-full): connect with a host name the certificate lists, or use sslmode=verify-ca to check only who signed it\n`);
  }
});

test("a root that did not sign the server's certificate is refused, in every verifying mode", async () => {
  // require with a root file verifies like verify-ca, as libpq does.
  for (const [host, mode] of [["localhost", "verify-full"], ["127.0.0.1", "verify-ca"], ["127.0.0.1", "require"]]) {
    const { tenant, audit } = await both([host, q({ sslmode: mode, sslrootcert: otherCa })]);
    for (const r of [tenant, audit]) {
      assert.equal(r.code, 1, `${host} ${mode}`);
      assert.match(r.stderr, /^TLS: certificate verification failed: the server's certificate is not signed by sslrootcert .*other-ca\.crt \(sslmode=/, `${host} ${mode}`);
      assert.match(r.stderr, /set sslrootcert to the CA certificate your provider publishes/);
    }
  }
  // Without a root file, verification uses the system's roots, which do not know this CA.
  const { tenant } = await both(["localhost", "sslmode=verify-full"]);
  assert.match(tenant.stderr, /^TLS: certificate verification failed: the server's certificate is not signed by the system's trusted roots/);
  const missing = await cli(["check", "--database-url", url(tenantDb, "localhost", q({ sslmode: "verify-full", sslrootcert: join(certs, "nope.crt") }))], { cwd: tenantDir });
  assert.match(missing.stderr, /^cannot read sslrootcert .*nope\.crt: /);
});

test("PGSSLMODE and PGSSLROOTCERT apply when the URL says nothing; the URL wins", async () => {
  const env = { PGSSLMODE: "verify-full", PGSSLROOTCERT: ca };
  const good = await both(["localhost", ""], env);
  assert.equal(good.tenant.code, 0, good.tenant.stderr);
  assert.equal(good.audit.code, 0, good.audit.stderr);
  const wrongHost = await both(["127.0.0.1", ""], env);
  for (const r of [wrongHost.tenant, wrongHost.audit]) assert.match(r.stderr, /does not match the host name "127\.0\.0\.1"/);
  const overridden = await both(["127.0.0.1", "sslmode=verify-ca"], env);
  assert.equal(overridden.tenant.code, 0, overridden.tenant.stderr);
  assert.equal(overridden.audit.code, 0, overridden.audit.stderr);
  const bad = await cli(["check", "--database-url", url(tenantDb)], { cwd: tenantDir, env: { PGSSLMODE: "verify" } });
  assert.equal(bad.stderr, 'invalid PGSSLMODE "verify": expected disable, prefer, require, verify-ca or verify-full\n');
});

test("a server that takes only TLS connections: sslmode=disable is refused naming the fix, PGSSLMODE=require gets in", async () => {
  writeFileSync(join(dataDir, "pg_hba.conf"), `hostnossl ${tenantDb} all 127.0.0.1/32 reject\nhostnossl ${auditDb} all 127.0.0.1/32 reject\n${hba}`);
  await reloadAndWait("on");
  try {
    const plain = await both(["127.0.0.1", "sslmode=disable"]);
    for (const r of [plain.tenant, plain.audit]) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^the server at 127\\.0\\.0\\.1:${port} refuses unencrypted connections here \\(pg_hba\\.conf rejects connection .*no encryption\\): connect with sslmode=verify-full \\(or require\\)`));
    }
    const tls = await both(["127.0.0.1", ""], { PGSSLMODE: "require" });
    assert.equal(tls.tenant.code, 0, tls.tenant.stderr);
    assert.equal(tls.audit.code, 0, tls.audit.stderr);
  } finally {
    writeFileSync(join(dataDir, "pg_hba.conf"), hba);
    await reloadAndWait("on");
  }
});

test("connection errors name the cause: a host name that does not resolve, a port nobody listens on; never the password", async () => {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const closed = server.address().port;
  await new Promise((r) => server.close(r));
  const cases = [
    ["postgres://u:s3cret-pw@nonexistent.invalid/db", /^the host name "nonexistent\.invalid" could not be resolved \(.*\): check the host in --database-url \/ DATABASE_URL\n$/],
    [`postgres://u:s3cret-pw@127.0.0.1:${closed}/db`, new RegExp(`^nothing is listening on 127\\.0\\.0\\.1:${closed} \\(connection refused\\): is PostgreSQL running there, and are the host and port in --database-url / DATABASE_URL right\\?\\n$`)],
  ];
  for (const [target, message] of cases) {
    const tenant = await cli(["check", "--database-url", target], { cwd: tenantDir });
    const audit = await auditCli(["stats", "--database-url", target], { cwd: auditDir });
    for (const r of [tenant, audit]) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr + r.stdout, /s3cret/);
    }
  }
});

test("a connection terminated in the middle of a command: a clear error, exit 1, no panic", async () => {
  const terminate = async (pid, c) => c.query("SELECT pg_terminate_backend($1)", [pid]);
  const seeded = await whileBlocked(tenantDb, "tenants", () => cli(["seed", "--name", "Gone Co", "--database-url", url(tenantDb)], { cwd: tenantDir }), terminate);
  const stats = await whileBlocked(auditDb, "audit_logs", () => auditCli(["stats", "--database-url", url(auditDb)], { cwd: auditDir }), terminate);
  for (const [r, prefix] of [[seeded, "seed: "], [stats, ""]]) {
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `${prefix}the database connection was closed: terminating connection due to administrator command (57P01); run the command again\n`);
  }
});
