// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Audit mirroring (W22): with an @usebetterdev/audit instance on the same database, endpoint
// management and delivery outcomes are audit entries written in the transaction of the change,
// sealed into the tenant's hash chain, so `better-audit verify` (the real CLI) proves what was
// delivered when and finds an edited entry.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterAudit, captureLogsIn } from "@usebetterdev/audit";
import { drizzleAuditAdapter } from "@usebetterdev/audit/drizzle";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { requireEnv } from "./helpers/db.mjs";
import { auditCli, project } from "./helpers/cli.mjs";
import { webhooksDatabase, inTenant, asSystem, loopbackConfig } from "./helpers/webhooks.mjs";

const SEAL_KEY = "webhooks-audit-seal-key-kept-outside-the-database";
const KEY = randomBytes(32).toString("base64");
let db, pool, url, server, audit;
let answer = () => 204;
const got = [];

// Deliveries are exhausted after 4 attempts, 50 ms apart.
const config = (extra = {}) => loopbackConfig(pool, KEY, extra);

// The CLI is the addon's (native) on either backend: run it in a child process.
const cli = (args) => {
  const u = new URL(requireEnv("DATABASE_URL"));
  u.pathname = `/${db.name}`;
  return auditCli(args, { cwd: project("webhooks-audit"), env: { DATABASE_URL: u.href, AUDIT_SEAL_KEY: SEAL_KEY, USEBETTER_BINDING: "native" } });
};
const system = (text, values) => asSystem(pool, text, values);

before(async () => {
  db = await webhooksDatabase("webhooks_audit", 8);
  pool = db.pool;
  await pool.query(betterWebhooks(config()).migrationSql(2));
  const migrated = await cli(["migrate"]);
  assert.equal(migrated.code, 0, migrated.stderr);
  audit = betterAudit({ database: drizzleAuditAdapter(drizzle(pool), { seal: { key: SEAL_KEY } }), auditTables: [] });
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      got.push(req.headers["webhook-id"]);
      res.writeHead(answer(got.length)).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${server.address().port}/hooks`;
});

after(async () => {
  server?.close();
  await db?.drop();
});

test("the `audit` option is checked: an instance or { instance, deliveries }", () => {
  const refused = (audit, message) =>
    assert.throws(() => betterWebhooks(config({ audit })), (e) => e.code === "WEBHOOKS_INVALID_CONFIG" && e.message.includes(message));
  refused({}, "invalid `audit`: expected a betterAudit() instance");
  refused({ deliveries: "final" }, "invalid `audit.instance`");
  // An audit instance without the hook for another library's transaction (the reference's shape).
  refused({ captureLog: async () => {}, withContext: async () => {} }, "invalid `audit`: expected a betterAudit() instance");
  refused("yes", "invalid `audit`: expected a betterAudit() instance");
  refused({ instance: audit, deliveries: "some" }, 'invalid `audit.deliveries`: expected "none", "final" or "all", got "some"');
  refused({ instance: audit, deliverys: "final" }, "unknown key `audit.deliverys`");
  betterWebhooks(config({ audit }));
  betterWebhooks(config({ audit: { instance: audit, deliveries: "all" } }));
});

test("endpoint management: create and rotate are entries with the audit context's actor, in the change's transaction, never with the secret", async () => {
  const tenant = randomUUID();
  const w = betterWebhooks(config({ audit }));
  const { endpoint, secret } = await audit.withContext({ actorId: "alice", reason: "onboarding" }, () =>
    w.endpoints.create({ url, description: "billing", headers: { authorization: "Bearer s3cr3t" }, metadata: { team: "ops" } }, { tenantId: tenant }),
  );
  const rotated = await audit.withContext({ actorId: "bob" }, () => w.endpoints.rotateSecret(endpoint.id, { graceHours: 2 }, { tenantId: tenant }));
  // Rolled back with the application's transaction: no endpoint, no entry.
  await assert.rejects(
    inTenant(pool, tenant, async (tx) => {
      await audit.withContext({ actorId: "alice" }, () => w.endpoints.create({ url }, { tx }));
      throw new Error("rolled back");
    }),
    /rolled back/,
  );
  const rows = await system(`SELECT * FROM audit_logs WHERE table_name = 'webhook_endpoints' ORDER BY seq`);
  assert.deepEqual(
    rows.map((r) => [r.operation, r.record_id, r.actor_id, r.tenant_id, r.description]),
    [
      ["INSERT", endpoint.id, "alice", tenant, "webhook endpoint created"],
      ["UPDATE", endpoint.id, "bob", tenant, "webhook endpoint secret rotated"],
    ],
  );
  assert.equal(rows[0].reason, "onboarding");
  assert.deepEqual(rows[0].after_data, {
    id: endpoint.id,
    url,
    description: "billing",
    eventTypes: null,
    ordering: "none",
    status: "enabled",
    disabledReason: null,
    signing: "v1",
    headers: ["authorization"],
    rateLimitPerSecond: null,
    metadata: { team: "ops" },
  });
  assert.deepEqual(rows[1].after_data, { action: "rotateSecret", graceHours: 2, secretGiven: false });
  assert.ok(rows.every((r) => r.seq !== null && r.hash !== null), "sealed as written");
  const text = JSON.stringify(await system("SELECT * FROM audit_logs"));
  for (const hidden of [secret, rotated.secret, "s3cr3t"]) assert.ok(!text.includes(hidden), "no secret or header value in the audit trail");
  assert.equal((await system("SELECT count(*)::int AS n FROM webhook_endpoints"))[0].n, 1);
  await system("UPDATE webhook_endpoints SET status = 'deleted'");
});

test('W22: deliveries: "final" — 1,000 deliveries are 1,000 sealed entries; better-audit verify passes, and fails at an edited entry', async () => {
  const tenant = randomUUID();
  const w = betterWebhooks(config({ audit: { instance: audit, deliveries: "final" } }));
  const { endpoint } = await w.endpoints.create({ url }, { tenantId: tenant });
  got.length = 0;
  // Every tenth delivery fails until exhausted (4 attempts), the rest succeed at once.
  const failing = new Set();
  answer = () => 204;
  const sent = await inTenant(pool, tenant, (tx) =>
    w.sendMany(Array.from({ length: 1000 }, (_, i) => ({ eventType: "invoice.paid", payload: { i } })), { tx }),
  );
  sent.forEach((m, i) => i % 10 === 0 && failing.add(m.id));
  answer = (n) => (failing.has(got[n - 1]) ? 500 : 204);
  const until = Date.now() + 120_000;
  // Deliveries are made by the worker's fan-out: wait until all 1,000 have ended.
  while ((await system("SELECT count(*)::int AS n FROM webhook_deliveries WHERE status IN ('succeeded', 'exhausted')"))[0].n < 1000) {
    assert.ok(Date.now() < until, "deliveries finish");
    await w.drain({ maxDeliveries: 5_000, maxMs: 30_000, concurrency: 64 });
    await new Promise((r) => setTimeout(r, 60));
  }
  const entries = await system(`SELECT * FROM audit_logs WHERE table_name = 'webhook_deliveries' ORDER BY seq`);
  assert.equal(entries.length, 1000, "one entry per delivery, at its end (not per attempt)");
  const deliveries = await system("SELECT id, status, attempt_count FROM webhook_deliveries");
  assert.equal(new Set(entries.map((e) => e.record_id)).size, 1000);
  const byMessage = new Map(entries.map((e) => [e.after_data.messageId, e]));
  for (const m of sent) {
    const e = byMessage.get(m.id);
    assert.ok(e, `entry for ${m.id}`);
    const exhausted = failing.has(m.id);
    assert.deepEqual(
      { ...e.after_data, lastAttemptAt: typeof e.after_data.lastAttemptAt },
      {
        messageId: m.id,
        endpointId: endpoint.id,
        urlHost: new URL(url).host,
        status: exhausted ? "exhausted" : "succeeded",
        attemptCount: exhausted ? 4 : 1,
        lastAttemptAt: "string",
        httpStatus: exhausted ? 500 : 204,
        failure: null,
      },
    );
    assert.deepEqual([e.actor_id, e.tenant_id, e.operation], ["system:better-webhooks", tenant, "UPDATE"]);
  }
  assert.equal(deliveries.filter((d) => d.status === "exhausted").length, 100);
  assert.ok(entries.every((e) => e.seq !== null), "every entry sealed");

  const verify = async () => {
    const r = await cli(["verify", "--json"]);
    return { code: r.code, report: JSON.parse(r.stdout || "null"), stderr: r.stderr };
  };
  const clean = await verify();
  assert.equal(clean.code, 0, JSON.stringify(clean));
  const chain = clean.report.chains.find((c) => c.chain === tenant);
  assert.deepEqual([chain.mode, chain.rows, chain.break], ["keyed", 1001, null], "the endpoint's creation and the 1,000 outcomes, in the tenant's chain");

  const target = entries[500];
  // The opposite outcome: the edit must change the entry whichever it recorded.
  const edited = target.after_data.status === "exhausted" ? "succeeded" : "exhausted";
  await system(`UPDATE audit_logs SET after_data = jsonb_set(after_data, '{status}', to_jsonb($2::text)) WHERE id = $1`, [target.id, edited]);
  const tampered = await verify();
  assert.equal(tampered.code, 1, JSON.stringify(tampered));
  const broken = tampered.report.chains.find((c) => c.chain === tenant).break;
  assert.deepEqual([broken.kind, broken.rowId, Number(broken.seq)], ["edited", target.id, Number(target.seq)]);
  await system(`UPDATE audit_logs SET after_data = $2 WHERE id = $1`, [target.id, JSON.stringify(target.after_data)]);
  assert.equal((await verify()).code, 0, "restored, it verifies again");
});

test('deliveries: "all" — every attempt is an entry, each with the delivery\'s state after it', async () => {
  const tenant = randomUUID();
  const w = betterWebhooks(config({ audit: { instance: audit, deliveries: "all" } }));
  await w.endpoints.create({ url }, { tenantId: tenant });
  got.length = 0;
  answer = (n) => (n === 1 ? 500 : 204);
  const [m] = await inTenant(pool, tenant, (tx) => w.sendMany([{ eventType: "invoice.paid", payload: {} }], { tx }));
  await w.drain();
  await new Promise((r) => setTimeout(r, 120));
  await w.drain();
  const entries = await system(`SELECT after_data FROM audit_logs WHERE table_name = 'webhook_deliveries' AND tenant_id = $1 ORDER BY seq`, [tenant]);
  assert.deepEqual(
    entries.map((e) => [e.after_data.messageId, e.after_data.status, e.after_data.attemptCount, e.after_data.httpStatus]),
    [
      [m.id, "pending", 1, 500],
      [m.id, "succeeded", 2, 204],
    ],
  );
  assert.equal((await cli(["verify"])).code, 0);
});

test("every management action is an entry in its transaction: disable, enable, reveal, replay, recover, lane resolution, delete", async () => {
  const tenant = randomUUID();
  const w = betterWebhooks(config({ audit }));
  const o = { tenantId: tenant };
  const act = (fn) => audit.withContext({ actorId: "carol" }, fn);
  const { endpoint } = await w.endpoints.create({ url, ordering: "key" }, o);
  await act(() => w.endpoints.disable(endpoint.id, { reason: "maintenance" }, o));
  await act(() => w.endpoints.enable(endpoint.id, o));
  await act(() => w.endpoints.revealSecret(endpoint.id, o));
  // A keyed message whose every attempt fails blocks its lane.
  got.length = 0;
  answer = () => 500;
  const [m] = await inTenant(pool, tenant, (tx) => w.sendMany([{ eventType: "invoice.paid", payload: {}, orderingKey: "k" }], { tx }));
  for (let i = 0; i < 50 && (await w.lanes.list({ endpointId: endpoint.id }, o)).length === 0; i++) {
    await w.drain({ reapIntervalMs: 0 });
    await new Promise((r) => setTimeout(r, 60));
  }
  const [blocked] = await w.lanes.list({ endpointId: endpoint.id }, o);
  assert.ok(blocked, "the lane is blocked");
  const laneId = blocked.id;
  assert.match(laneId, /^lane_/);
  answer = () => 204;
  await act(() => w.lanes.resolve(laneId, { action: "skip" }, o));
  await act(() => w.replay({ messageId: m.id, endpointId: endpoint.id }, o));
  const since = new Date(Date.now() - 3_600_000);
  await act(() => w.recover({ endpointId: endpoint.id, since }, o));
  await act(() => w.endpoints.delete(endpoint.id, o));
  const rows = await system(`SELECT * FROM audit_logs WHERE tenant_id = $1 ORDER BY seq`, [tenant]);
  assert.deepEqual(
    rows.map((r) => [r.table_name, r.operation, r.record_id, r.description, r.actor_id]),
    [
      ["webhook_endpoints", "INSERT", endpoint.id, "webhook endpoint created", null],
      ["webhook_endpoints", "UPDATE", endpoint.id, "webhook endpoint disabled", "carol"],
      ["webhook_endpoints", "UPDATE", endpoint.id, "webhook endpoint enabled", "carol"],
      ["webhook_endpoints", "UPDATE", endpoint.id, "webhook endpoint secret revealed", "carol"],
      ["webhook_lanes", "UPDATE", laneId, "webhook lane resolved", "carol"],
      ["webhook_messages", "UPDATE", m.id, "webhook message replayed", "carol"],
      ["webhook_endpoints", "UPDATE", endpoint.id, "webhook deliveries recovered", "carol"],
      ["webhook_endpoints", "DELETE", endpoint.id, "webhook endpoint deleted", "carol"],
    ],
  );
  assert.deepEqual([rows[1].after_data.status, rows[1].after_data.disabledReason, rows[2].after_data.status], ["disabled", "maintenance", "enabled"]);
  assert.deepEqual(rows[4].after_data, { action: "resolve", resolution: "skip" });
  assert.deepEqual(rows[5].after_data, { action: "replay", endpointId: endpoint.id, replayed: 1 });
  assert.deepEqual(rows[6].after_data, { action: "recover", since: since.toISOString(), until: null, includeMissing: false, recovered: rows[6].after_data.recovered });
  assert.equal(rows[7].before_data.id, endpoint.id);
  assert.equal(rows[7].after_data, null);
  assert.equal((await cli(["verify"])).code, 0);
});

test("captureLogsIn (the audit package's hook): entries on the caller's transaction, sealed or not, with the context's actor; a foreign adapter is refused", async () => {
  const [a, b] = [randomUUID(), randomUUID()];
  const entry = (tenantId, recordId) => ({ tableName: "outside_audit_tables", operation: "INSERT", recordId, after: { n: 1 }, tenantId });
  const plain = betterAudit({ database: drizzleAuditAdapter(drizzle(pool)), auditTables: ["other"] });
  for (const [instance, commit] of [[plain, false], [plain, true], [audit, true]]) {
    await inTenant(pool, a, async (c) => {
      const run = async (text, params) => (await c.query(text, params)).rows;
      await instance.withContext({ actorId: "dave" }, () => captureLogsIn(instance, run, [entry(b, "1"), entry(a, "2"), entry(null, "3")]));
      if (!commit) throw new Error("rolled back");
    }).catch((e) => assert.equal(e.message, "rolled back"));
  }
  // The rolled-back batch left nothing; the committed ones are there, unsealed and sealed.
  const rows = await system(`SELECT record_id, tenant_id, actor_id, seq IS NOT NULL AS sealed FROM audit_logs WHERE table_name = 'outside_audit_tables' ORDER BY sealed, record_id`);
  assert.deepEqual(
    rows.map((r) => [r.record_id, r.tenant_id, r.actor_id, r.sealed]),
    [["1", b, "dave", false], ["2", a, "dave", false], ["3", null, "dave", false], ["1", b, "dave", true], ["2", a, "dave", true], ["3", null, "dave", true]],
  );
  // Unsealed entries fail verification when a key is given: those of the plain adapter go.
  await system(`DELETE FROM audit_logs WHERE seq IS NULL`);
  const verified = await cli(["verify"]);
  assert.equal(verified.code, 0, verified.stdout);

  const foreign = betterAudit({ database: { writeLog: async () => {} }, auditTables: [] });
  await assert.rejects(captureLogsIn(foreign, async () => [], [entry(null, "4")]), { code: "AUDIT_ADAPTER_UNSUPPORTED" });
  await assert.rejects(captureLogsIn({}, async () => [], []), { code: "INVALID_ARGUMENT" });
});
