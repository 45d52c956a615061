// suite: once (scripts/test.sh runs it once; the others run on each backend)
// better-webhooks against PostgreSQL 15 (W23): migrate is idempotent and prints, writes and
// applies the same SQL; check names each finding (RLS off, a missing index, a BYPASSRLS role,
// a secret in clear, no live worker) and passes a healthy database; purge --dry-run lists the
// partitions it would drop; keys generate prints a usable secret; rekey keeps secrets readable.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "@usebetterdev/webhooks-cli";
import core from "@usebetter-rs/core";
import { admin, APP_GRANTS, freshDatabase, migrateRoundTrip, OWNER, ownedDatabase } from "./helpers/db.mjs";
import { cli as runBin, cliHarness, project } from "./helpers/cli.mjs";
import { createServer } from "node:http";
import pg from "pg";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { transaction } from "./helpers/webhooks.mjs";

const KEY = Buffer.alloc(32, 1).toString("base64");
const NEW_KEY = Buffer.alloc(32, 2).toString("base64");
const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const RLS = { tenant: { tenantTables: [] }, webhooks: { retention: { days: 30 } } };
const pools = [];
const { dir, created, urlOf, cli, ok, client, cleanup } = await cliHarness(runCli, { prefix: "better-webhooks-", config: RLS });

after(async () => {
  for (const p of pools) await p.end();
  await cleanup();
  const a = await admin();
  await a.query("DROP ROLE IF EXISTS wh_bypass");
  await a.end();
});

test("migrate: applied twice changes nothing the second time; --dry-run and -o give the SQL it applies", async () => {
  await migrateRoundTrip("webhook", { run: (db, args) => cli(urlOf(db), args), connect: (db) => client("app", "app", db), dir, created });
});

/** A database migrated by its owner, read by `app`, with a heartbeat and one sealed endpoint. */
async function healthyDatabase(prefix) {
  const db = await ownedDatabase(prefix, async () => {});
  created.push(db);
  assert.match(await ok(urlOf(db.name, OWNER.user, OWNER.password), ["migrate"]), /^applied/);
  const owner = await client(OWNER.user, OWNER.password, db.name);
  await owner.query(APP_GRANTS);
  const app = await client("app", "app", db.name);
  await app.query("SELECT set_config('app.bypass_rls', 'true', false)");
  await app.query("INSERT INTO webhook_workers (id, last_seen) VALUES ('w1', now())");
  const id = await insertEndpoint(app, KEY);
  return { db, url: urlOf(db.name), owner, app, id };
}

const urlParts = { href: "https://example.com/hook", protocol: "https:", username: "", password: "", hostname: "example.com", port: "" };

/** An endpoint whose keys are sealed with `key` (through the core, as the package stores them). */
async function insertEndpoint(c, key) {
  const hooks = new core.Webhooks({ secretsKey: key }, false);
  const { row } = hooks.prepareEndpoint({ url: urlParts, secret: SECRET }, Date.now(), new Uint8Array(66).map((_, i) => i));
  await c.query("INSERT INTO webhook_endpoints (id, tenant_id, url, keys) VALUES ($1, gen_random_uuid(), $2, $3::jsonb)", [row.id, row.url, JSON.stringify(row.keys)]);
  return row.id;
}

async function findings(url, env = { BETTER_WEBHOOKS_KEY: KEY }) {
  const r = await cli(url, ["check", "--json"], { env });
  const report = JSON.parse(r.stdout);
  return { code: r.code, report, failed: report.results.filter((x) => !x.passed).map((x) => `${x.check}: ${x.message}`) };
}

test("check: a healthy database passes; each finding fails it and is named", async () => {
  const { db, url, owner, app } = await healthyDatabase("whcli_check");
  const healthy = await findings(url);
  assert.deepEqual(healthy.failed, []);
  assert.equal(healthy.code, 0);
  assert.equal(healthy.report.ssrf, "node");
  const text = await cli(url, ["check"], { env: { BETTER_WEBHOOKS_KEY: KEY } });
  assert.match(text.stdout, /✓ All \d+ checks passed/);

  const expectFinding = async (pattern, env) => {
    const r = await findings(url, env);
    assert.equal(r.code, 1, r.failed.join("\n"));
    assert.ok(r.failed.some((f) => pattern.test(f)), `${pattern}:\n${r.failed.join("\n")}`);
    return r;
  };
  await owner.query("ALTER TABLE webhook_lanes DISABLE ROW LEVEL SECURITY");
  await expectFinding(/^table webhook_lanes RLS enabled: ROW LEVEL SECURITY not enabled on webhook_lanes/);
  await owner.query("ALTER TABLE webhook_lanes ENABLE ROW LEVEL SECURITY");

  await owner.query("DROP INDEX webhook_deliveries_due_idx");
  const missing = await expectFinding(/^webhook indexes exist: missing: webhook_deliveries_due_idx on webhook_deliveries/);
  assert.match(missing.report.next, /better-webhooks migrate/);
  await ok(urlOf(db.name, OWNER.user, OWNER.password), ["migrate"]);

  const a = await admin();
  await a.query("DROP ROLE IF EXISTS wh_bypass; CREATE ROLE wh_bypass LOGIN PASSWORD 'bypass' BYPASSRLS");
  await a.end();
  await owner.query(APP_GRANTS.replaceAll(" TO app", " TO wh_bypass"));
  const bypass = await cli(urlOf(db.name, "wh_bypass", "bypass"), ["check", "--json"], { env: { BETTER_WEBHOOKS_KEY: KEY } });
  assert.equal(bypass.code, 1);
  assert.ok(JSON.parse(bypass.stdout).results.some((x) => !x.passed && /"wh_bypass" has BYPASSRLS/.test(x.message)), bypass.stdout);

  await app.query("INSERT INTO webhook_endpoints (id, tenant_id, url, keys) VALUES (gen_random_uuid(), gen_random_uuid(), 'https://example.com/h', $1::jsonb)", [
    JSON.stringify([{ kind: "v1", secret: SECRET }]),
  ]);
  await expectFinding(/^endpoint secrets sealed: 1 endpoints keep a signing secret in clear/);
  const allowed = await cli(url, ["check", "--json"], { env: { BETTER_WEBHOOKS_KEY: KEY }, config: { ...RLS, webhooks: { allowPlaintextSecrets: true } } });
  assert.equal(allowed.code, 0, allowed.stdout);
  await app.query("DELETE FROM webhook_endpoints WHERE keys->0 ? 'secret'");

  await expectFinding(/^BETTER_WEBHOOKS_KEY opens the stored secrets: endpoint [0-9a-f-]{36}: /, { BETTER_WEBHOOKS_KEY: NEW_KEY });
  await expectFinding(/BETTER_WEBHOOKS_KEY is not set/, {});

  await app.query("UPDATE webhook_workers SET last_seen = now() - interval '5 minutes'");
  await expectFinding(/^a worker is live: the newest worker heartbeat is \d+ s old/);
  await app.query("DELETE FROM webhook_workers");
  await expectFinding(/^a worker is live: no worker has sent a heartbeat/);

  const plans = await cli(url, ["check", "--plans", "--json"], { env: { BETTER_WEBHOOKS_KEY: KEY } });
  const planResults = JSON.parse(plans.stdout).results.filter((x) => x.check.startsWith("plan of "));
  assert.deepEqual(planResults.map((x) => [x.check, x.passed]), [
    ["plan of claimUnordered uses an index", true],
    ["plan of reapExpired uses an index", true],
    ["plan of expandLockMessages uses an index", true],
  ]);
  await owner.query("DROP INDEX webhook_deliveries_due_idx");
  const seq = await cli(url, ["check", "--plans", "--json"], { env: { BETTER_WEBHOOKS_KEY: KEY } });
  assert.ok(JSON.parse(seq.stdout).results.some((x) => !x.passed && /claimUnordered scans webhook_deliveries sequentially/.test(x.message)), seq.stdout);
});

test("purge --dry-run lists the partitions it would drop and drops nothing; ensure-partitions", async () => {
  const { db, url, owner, app } = await healthyDatabase("whcli_purge");
  await owner.query(`CREATE TABLE webhook_messages_p20200106 PARTITION OF webhook_messages FOR VALUES FROM ('2020-01-06 00:00:00+00') TO ('2020-01-13 00:00:00+00');
    CREATE TABLE webhook_attempts_p20200106 PARTITION OF webhook_attempts FOR VALUES FROM ('2020-01-06 00:00:00+00') TO ('2020-01-13 00:00:00+00');
    CREATE TABLE webhook_messages_p20200113 PARTITION OF webhook_messages FOR VALUES FROM ('2020-01-13 00:00:00+00') TO ('2020-01-20 00:00:00+00');`);
  // A message of 2020-01-15 still has a pending delivery: its partition stays.
  await app.query(`INSERT INTO webhook_messages (id, tenant_id, event_type, body_sha256, created_at, expanded_at)
    VALUES (gen_random_uuid(), gen_random_uuid(), 'a.b', '\\x00', '2020-01-15', now());
    INSERT INTO webhook_deliveries (id, message_id, message_created_at, endpoint_id, status, next_attempt_at)
    VALUES (gen_random_uuid(), gen_random_uuid(), '2020-01-15', gen_random_uuid(), 'pending', now() + interval '1 hour')`);
  const out = await ok(url, ["purge", "--dry-run"]);
  assert.match(out, /^retention: 30 days \(dry run\)\n/);
  assert.match(out, /would drop partition webhook_messages_p20200106\n/);
  assert.match(out, /would drop partition webhook_attempts_p20200106\n/);
  assert.doesNotMatch(out, /webhook_messages_p20200113/);
  const json = JSON.parse(await ok(url, ["purge", "--dry-run", "--json"]));
  assert.deepEqual(json.partitions, ["webhook_messages_p20200106", "webhook_attempts_p20200106"]);
  const { rows } = await owner.query("SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'r' AND relname LIKE 'webhook\\_%\\_p2020%'");
  assert.equal(rows[0].n, 3, "a dry run drops nothing");
  assert.match(await ok(urlOf(db.name, OWNER.user, OWNER.password), ["ensure-partitions", "--ahead", "6"]), /^partitions ready for this week and the next 6\n/);
  const ahead = await app.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'webhook_messages'::regclass");
  assert.equal(ahead.rows[0].n, 1 + 2 + 7, "DEFAULT, the two old ones, this week and the next 6");
});

test("keys generate prints a valid secret; rekey under a new key leaves every secret readable", async () => {
  const v1 = await runBin(["keys", "generate"], { tool: "better-webhooks", cwd: dir });
  assert.equal(v1.code, 0, v1.stderr);
  const secret = v1.stdout.trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const signed = core.webhookSign({ id: "msg_1", timestamp: 1614265330, body: "{}", secret });
  assert.match(signed, /^v1,/);
  const v1a = JSON.parse((await cli("", ["keys", "generate", "--v1a", "--json"])).stdout);
  assert.match(v1a.secret, /^whsk_/);
  assert.match(v1a.publicKey, /^whpk_/);
  const bad = await runBin(["keys", "rotate"], { tool: "better-webhooks", cwd: dir });
  assert.equal(bad.code, 2);

  const { url, app, id } = await healthyDatabase("whcli_rekey");
  const second = await insertEndpoint(app, KEY);
  const noKey = await cli(url, ["rekey"]);
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /BETTER_WEBHOOKS_KEY/);
  const out = await ok(url, ["rekey"], { env: { BETTER_WEBHOOKS_KEY: NEW_KEY, BETTER_WEBHOOKS_KEY_PREVIOUS: KEY } });
  assert.equal(out, "sealed the keys of 2 endpoints again with BETTER_WEBHOOKS_KEY\n");
  const fresh = new core.Webhooks({ secretsKey: NEW_KEY }, false);
  const old = new core.Webhooks({ secretsKey: KEY }, false);
  for (const uuid of [id, second]) {
    const { rows } = await app.query("SELECT keys FROM webhook_endpoints WHERE id = $1", [uuid]);
    assert.equal(fresh.revealSecret(uuid, rows[0].keys, Date.now()).secret, SECRET);
    assert.throws(() => old.revealSecret(uuid, rows[0].keys, Date.now()), { code: "WEBHOOKS_SECRETS_KEY_WRONG" });
  }
  const check = await findings(url, { BETTER_WEBHOOKS_KEY: NEW_KEY });
  assert.deepEqual(check.failed, []);
});

test("worker: bad options exit 2 naming the option; no tables names migrate; --once delivers what is due and exits 0", async () => {
  for (const [args, message] of [
    [["worker", "--concurrency", "0"], /^invalid --concurrency "0": expected a whole number from 1 to 1024/],
    [["worker", "--max-seconds", "soon"], /^invalid --max-seconds "soon"/],
  ]) {
    const r = await cli("postgres://127.0.0.1:1/x", args);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.errorCode, "CLI_USAGE");
    assert.match(r.stderr, message);
  }
  const bare = await freshDatabase("whcli_worker_bare");
  created.push(bare);
  const missing = await cli(urlOf(bare.name), ["worker"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.errorCode, "WEBHOOKS_SCHEMA_MISSING");
  assert.match(missing.stderr, /run `better-webhooks migrate`/);

  // A message due for a loopback endpoint, delivered by `worker --once` in a child process.
  const section = { eventTypes: ["order.created"], network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] }, tenancy: "none", secretsKey: KEY };
  const db = await freshDatabase("whcli_worker");
  created.push(db);
  const app = await client("app", "app", db.name);
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => (received.push({ id: req.headers["webhook-id"], body: JSON.parse(Buffer.concat(chunks)) }), res.writeHead(204).end()));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const pool = new pg.Pool({ connectionString: urlOf(db.name), max: 2 });
    pools.push(pool);
    const hooks = betterWebhooks({ ...section, database: sqlExecutorAdapter(pool) });
    await app.query(hooks.migrationSql(1));
    const tenantId = "6d0a3c8e-1f43-4c1e-9a57-6a8f1c2b9d10";
    await hooks.endpoints.create({ url: `http://127.0.0.1:${server.address().port}/` }, { tenantId });
    await hooks.send({ eventType: "order.created", payload: { n: 1 } }, { tx: "autocommit", tenantId });
    const { secretsKey: _, ...file } = section; // the key comes from the environment only
    const cwd = project("whcli-worker", { "better.config.mjs": `export default ${JSON.stringify({ webhooks: file })};\n` });
    const r = await runBin(["worker", "--once"], { tool: "better-webhooks", cwd, env: { DATABASE_URL: urlOf(db.name), BETTER_WEBHOOKS_KEY: KEY } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "better-webhooks worker: delivered 1; nothing more is due\n");
    assert.deepEqual(received.map((x) => x.body.data), [{ n: 1 }]);
    const { rows } = await app.query("SELECT status FROM webhook_deliveries");
    assert.deepEqual(rows, [{ status: "succeeded" }]);
    // --prepare: the engine's statements as named prepared statements; deliveries are the same.
    await hooks.send({ eventType: "order.created", payload: { n: 2 } }, { tx: "autocommit", tenantId });
    const again = await runBin(["worker", "--once", "--prepare"], { tool: "better-webhooks", cwd, env: { DATABASE_URL: urlOf(db.name), BETTER_WEBHOOKS_KEY: KEY } });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, "better-webhooks worker: delivered 1; nothing more is due\n");
    assert.deepEqual(received.map((x) => x.body.data), [{ n: 1 }, { n: 2 }]);
  } finally {
    server.close();
  }
});

test("listen: verifies and prints each delivery, answers --status, refuses a bad signature with 401, stops on SIGTERM", async () => {
  const usage = await cli("", ["listen"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^listen needs --secret/);
  const { spawn } = await import("node:child_process");
  const { createRequire } = await import("node:module");
  const bin = createRequire(import.meta.url).resolve("@usebetterdev/webhooks-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
  for (const status of [204, 500]) {
    const child = spawn(process.execPath, [bin, "listen", "--port", "0", "--secret", SECRET, "--status", String(status), "--json"], { cwd: dir });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const exited = new Promise((r) => child.on("exit", (code) => r(code)));
    while (!out.includes("listening")) await new Promise((r) => setTimeout(r, 10));
    const url = JSON.parse(out.split("\n")[0]).listening;
    const body = JSON.stringify({ type: "order.created", data: { n: status } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = (secret) => ({ "webhook-id": `msg_${status}`, "webhook-timestamp": String(timestamp), "webhook-signature": core.webhookSign({ id: `msg_${status}`, timestamp, body, secret }) });
    assert.equal((await fetch(url, { method: "POST", headers: headers(SECRET), body })).status, status);
    const forged = await fetch(url, { method: "POST", headers: headers(`whsec_${Buffer.alloc(32, 9).toString("base64")}`), body });
    assert.equal(forged.status, 401);
    assert.equal((await forged.json()).error.code, "WEBHOOK_BAD_SIGNATURE");
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    const lines = out.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.slice(1), [
      { verified: true, id: `msg_${status}`, timestamp: new Date(timestamp * 1000).toISOString(), body, status },
      { verified: false, code: "WEBHOOK_BAD_SIGNATURE", message: lines[2].message },
    ]);
  }
});

test("replay, recover, lanes, endpoints, stats: the operator's commands act across tenants, name what is missing and agree with the API", async () => {
  const section = { eventTypes: ["order.created"], network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] }, tenancy: "rls", secretsKey: KEY, delivery: { retrySchedule: [0.05], jitter: 0 } };
  const db = await freshDatabase("whcli_ops");
  created.push(db);
  const url = urlOf(db.name);
  const received = [];
  let failing = false;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => (received.push(req.headers["webhook-id"]), res.writeHead(failing ? 500 : 204).end()));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pools.push(pool);
  const hooks = betterWebhooks({ ...section, database: sqlExecutorAdapter(pool) });
  await pool.query(hooks.migrationSql(1));
  const json = async (args, code = 0) => {
    const r = await cli(url, [...args, "--json"], { env: { BETTER_WEBHOOKS_KEY: KEY } });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    return code === 0 ? JSON.parse(r.stdout) : r;
  };
  // As an operator's job would: a system-context transaction, for one tenant.
  const operatorSend = (input, tenantId) => transaction(pool, { "app.bypass_rls": "true" }, (c) => hooks.send(input, { tx: c, tenantId }));
  const drainAll = async () => {
    for (let i = 0; i < 4; i++) {
      await hooks.drain({ maxMs: 5_000 });
      await new Promise((r) => setTimeout(r, 80));
    }
  };
  try {
    const T1 = "6d0a3c8e-1f43-4c1e-9a57-6a8f1c2b9d10";
    const T2 = "0b6f1a52-9d4e-4f7a-8c3b-2e5d7f9a1c34";
    const target = `http://127.0.0.1:${server.address().port}/`;
    const e1 = (await hooks.endpoints.create({ url: target }, { tenantId: T1 })).endpoint;
    const e2 = (await hooks.endpoints.create({ url: target, ordering: "key" }, { tenantId: T2 })).endpoint;
    const m1 = await operatorSend({ eventType: "order.created", payload: { n: 1 } }, T1);
    await drainAll();
    assert.deepEqual(received, [m1.id]);

    // replay: once more to its endpoint; unknown ids and malformed ones.
    const replayed = await cli(url, ["replay", m1.id], { env: { BETTER_WEBHOOKS_KEY: KEY } });
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.equal(replayed.stdout, `replayed ${m1.id} to 1 endpoint(s)\n`);
    await drainAll();
    assert.deepEqual(received, [m1.id, m1.id]);
    const ghost = core.webhookId("message", "01890a5d-ac96-774b-bcce-b302099a8057", true);
    const missing = await json(["replay", ghost], 1);
    assert.equal(missing.errorCode, "WEBHOOKS_NOT_FOUND");
    assert.equal(missing.stderr, `no message ${ghost}\n`);
    const malformed = await json(["replay", "msg_nope"], 2);
    assert.match(malformed.stderr, /^invalid msg_id: expected a msg_… id/);

    // recover: an exhausted delivery of the last hour is delivered again.
    failing = true;
    const m2 = await operatorSend({ eventType: "order.created", payload: { n: 2 } }, T1);
    // T2's ordered endpoint: its head fails through the schedule and blocks the lane.
    const m3 = await operatorSend({ eventType: "order.created", payload: { n: 3 }, orderingKey: "acct-9" }, T2);
    await drainAll();
    assert.equal((await hooks.deliveries.list({ status: "exhausted" }, { tenantId: T1 })).data.length, 1);
    failing = false;
    assert.match((await json(["recover", "--endpoint", e1.id], 2)).stderr, /'--since <when>'/);
    assert.match((await json(["recover", "--endpoint", e1.id, "--since", "yesterday"], 2)).stderr, /^invalid --since: "yesterday"/);
    assert.match((await json(["recover", "--endpoint", e1.id, "--since", "400d"], 2)).stderr, /^invalid --since: more than retention\.days \(30\) ago/);
    assert.deepEqual(await json(["recover", "--endpoint", e1.id, "--since", "1h"]), { recovered: 1 });
    received.length = 0;
    await drainAll();
    assert.deepEqual(received, [m2.id]);

    // lanes: the blocked one, across tenants; resolve --skip once, then it is no longer blocked.
    const lanes = await json(["lanes"]);
    assert.equal(lanes.length, 1);
    assert.deepEqual([lanes[0].endpointId, lanes[0].orderingKey, lanes[0].headMessageId], [e2.id, "acct-9", m3.id]);
    assert.match(lanes[0].id, /^lane_/);
    assert.match((await json(["lanes", "resolve", lanes[0].id], 2)).stderr, /--retry or --skip/);
    assert.deepEqual(await json(["lanes", "resolve", lanes[0].id, "--skip"]), { lane: lanes[0].id, resolution: "skip" });
    const again = await json(["lanes", "resolve", lanes[0].id, "--skip"], 1);
    assert.equal(again.errorCode, "WEBHOOKS_INVALID_STATE");
    assert.deepEqual(await json(["lanes"]), []);

    // endpoints: every tenant's, or one tenant's; disable, health, enable.
    const all = await json(["endpoints", "list"]);
    assert.deepEqual(new Set(all.data.map((e) => e.id)), new Set([e1.id, e2.id]));
    assert.deepEqual((await json(["endpoints", "list", "--tenant", T1])).data.map((e) => e.id), [e1.id]);
    const disabled = await cli(url, ["endpoints", "disable", e1.id, "--reason", "ops"], { env: { BETTER_WEBHOOKS_KEY: KEY } });
    assert.equal(disabled.stdout, `${e1.id} disabled\n`);
    const health = await json(["endpoints", "health", e1.id]);
    assert.deepEqual([health.id, health.status, health.disabledReason], [e1.id, "disabled", "ops"]);
    assert.equal(health.successRate24h, (await hooks.endpoints.health(e1.id, { tenantId: T1 })).successRate24h);
    const off = await json(["replay", m1.id, "--endpoint", e1.id], 1);
    assert.equal(off.errorCode, "WEBHOOKS_ENDPOINT_DISABLED");
    assert.match(off.stderr, /better-webhooks endpoints enable/);
    assert.equal((await json(["endpoints", "enable", e1.id])).status, "enabled");
    assert.equal((await json(["endpoints", "health", e1.id, "--tenant", T2], 1)).errorCode, "WEBHOOKS_NOT_FOUND");
    assert.equal((await json(["endpoints", "frob", e1.id], 2)).errorCode, "CLI_USAGE");
    assert.equal((await json(["endpoints", "disable"], 2)).errorCode, "CLI_USAGE");

    // stats: the API's figures, per tenant and overall.
    for (const [args, tenantId] of [[["stats", "--window", "1h", "--tenant", T1], T1], [["stats", "--window", "1h", "--tenant", T2], T2]]) {
      const mine = await json(args);
      const api = await hooks.stats({ window: "1h" }, { tenantId });
      assert.deepEqual([mine.delivered, mine.failed, mine.backlog], [api.delivered, api.failed, api.backlog], args.join(" "));
    }
    const overall = await json(["stats", "--window", "1h"]);
    assert.ok(overall.delivered >= 2, JSON.stringify(overall));
    assert.equal((await json(["stats", "--window", "2d"], 2)).errorCode, "CLI_USAGE");
  } finally {
    server.close();
  }
});
