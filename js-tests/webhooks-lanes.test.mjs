// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// A blocked lane (acceptance W7): an ordered endpoint whose head delivery fails through the whole
// retry schedule blocks that key's lane — later messages of the key wait, other keys flow —,
// `lane.blocked` is emitted once, and `lanes.resolve(…, { action: "skip" })` releases the rest
// of the key in order. A short schedule (three attempts 50 ms apart) drives the head to
// exhaustion in real time. Then the race between recording a lane's head and fan-out adding to
// the same lane, played step by step on two connections.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import core from "@usebetter-rs/core";
import { betterWebhooks } from "@usebetterdev/webhooks";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import { webhooksDatabase, inTenant, asSystem, engineSteps } from "./helpers/webhooks.mjs";

let db, pool, server;
const KEY = randomBytes(32).toString("base64");
/** `key:seq` of every request the receiver saw, in arrival order. */
const got = [];
/** Messages the receiver refuses (500) however often they come. */
const poisoned = new Set(["A:2"]);

before(async () => {
  db = await webhooksDatabase("webhooks_lanes", 8);
  pool = db.pool;
  server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const { key, seq } = JSON.parse(Buffer.concat(chunks).toString()).data;
      got.push(`${key}:${seq}`);
      res.writeHead(poisoned.has(`${key}:${seq}`) ? 500 : 204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  await pool.query(betterWebhooks({ database: sqlExecutorAdapter(pool), eventTypes: ["item.changed"], secretsKey: KEY }).migrationSql(2));
});

after(async () => {
  server?.close();
  await db?.drop();
});

const until = async (what, cond, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const seen = (key) => got.filter((g) => g.startsWith(`${key}:`)).map((g) => Number(g.split(":")[1]));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("a permanently failing head blocks its lane only; lane.blocked once; skip releases the rest in order", async () => {
  const events = [];
  const w = betterWebhooks({
    database: sqlExecutorAdapter(pool),
    eventTypes: ["item.changed"],
    secretsKey: KEY,
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: [0.05, 0.05], jitter: 0 },
    onEvent: (e) => void events.push(e),
  });
  const tenant = randomUUID();
  const { endpoint } = await w.endpoints.create({ url: `http://127.0.0.1:${server.address().port}/`, ordering: "key" }, { tenantId: tenant });
  const send = (key, seqs) =>
    inTenant(pool, tenant, (c) => w.sendMany(seqs.map((seq) => ({ eventType: "item.changed", orderingKey: key, payload: { key, seq } })), { tx: c }));
  const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

  const worker = w.createWorker({ concurrency: 8, pollIntervalMs: 20, workerId: "lanes" });
  await worker.start();
  try {
    await send("A", range(1, 5));
    await send("B", range(1, 5));
    await until("B delivered and A's lane blocked", async () => seen("B").length === 5 && (await w.lanes.list({ endpointId: endpoint.id }, { tenantId: tenant })).length === 1);

    // The head went through its three attempts; nothing after it was sent. Other keys flowed.
    assert.deepEqual(seen("A"), [1, 2, 2, 2]);
    assert.deepEqual(seen("B"), [1, 2, 3, 4, 5]);
    const [lane] = await w.lanes.list({ endpointId: endpoint.id }, { tenantId: tenant });
    assert.match(lane.id, /^lane_/);
    assert.equal(lane.orderingKey, "A");
    assert.equal(Number(lane.headSeq), 2); // bigint columns arrive as text from node-postgres
    assert.equal(lane.lastOutcome, "http_error");
    const [state] = await asSystem(pool, "SELECT state, head_seq::int FROM webhook_lanes WHERE ordering_key = 'A'");
    assert.deepEqual(state, { state: "blocked", head_seq: 2 });

    // While blocked, later messages of the key wait (new ones too); other keys keep flowing.
    await send("A", [6]);
    await send("B", [6]);
    await until("B:6", () => seen("B").length === 6);
    await sleep(300);
    assert.deepEqual(seen("A"), [1, 2, 2, 2]);
    const waiting = await asSystem(
      pool,
      "SELECT d.lane_seq::int, d.status, d.attempt_count FROM webhook_deliveries d JOIN webhook_lanes l ON l.id = d.lane_id WHERE l.ordering_key = 'A' ORDER BY d.lane_seq",
    );
    assert.deepEqual(
      waiting.map((d) => [d.lane_seq, d.status, d.attempt_count]),
      [[1, "succeeded", 1], [2, "exhausted", 3], [3, "pending", 0], [4, "pending", 0], [5, "pending", 0], [6, "pending", 0]],
    );

    // Operational events: the head's exhaustion blocked the lane, once.
    const blocked = events.filter((e) => e.type === "lane.blocked");
    assert.equal(blocked.length, 1, JSON.stringify(events));
    assert.equal(blocked[0].data.endpointId, endpoint.id);
    const stored = await asSystem(pool, "SELECT type, count(*)::int AS n FROM webhook_operational_events GROUP BY type ORDER BY type");
    assert.deepEqual(stored, [{ type: "lane.blocked", n: 1 }, { type: "message.attempt.exhausted", n: 1 }]);

    // Skip: the head becomes `skipped`, the rest of the key goes out in order.
    await w.lanes.resolve(lane.id, { action: "skip" }, { tenantId: tenant });
    await until("A released", () => seen("A").length === 8);
    assert.deepEqual(seen("A"), [1, 2, 2, 2, 3, 4, 5, 6]);
    await until("lane idle", async () => (await asSystem(pool, "SELECT state FROM webhook_lanes WHERE ordering_key = 'A'"))[0].state === "idle");
    const after = await asSystem(
      pool,
      "SELECT d.lane_seq::int, d.status FROM webhook_deliveries d JOIN webhook_lanes l ON l.id = d.lane_id WHERE l.ordering_key = 'A' ORDER BY d.lane_seq",
    );
    assert.deepEqual(after.map((d) => d.status), ["succeeded", "skipped", "succeeded", "succeeded", "succeeded", "succeeded"]);
    assert.deepEqual(await w.lanes.list({ endpointId: endpoint.id }, { tenantId: tenant }), []);
    assert.equal(events.filter((e) => e.type === "lane.blocked").length, 1);

    // A lane that is not blocked cannot be resolved; the key keeps flowing afterwards.
    const again = await w.lanes.resolve(lane.id, { action: "skip" }, { tenantId: tenant }).catch((e) => e);
    assert.equal(again.code, "WEBHOOKS_INVALID_STATE");
    await send("A", [7]);
    await until("A:7", () => seen("A").length === 9);
    assert.equal(seen("A").at(-1), 7);
  } finally {
    await worker.stop();
  }
});

test("fan-out committing while a lane's head is recorded: the new delivery becomes the head, not stranded", async () => {
  const config = {
    eventTypes: ["item.changed"],
    secretsKey: KEY,
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: [0.05], jitter: 0 },
  };
  const w = betterWebhooks({ ...config, database: sqlExecutorAdapter(pool) });
  const { engine, q, begin, expand, recordInput } = engineSteps(config);
  const tenant = randomUUID();
  const { endpoint } = await w.endpoints.create({ url: `http://127.0.0.1:${server.address().port}/`, ordering: "key" }, { tenantId: tenant });
  const endpointId = core.webhookId("endpoint", endpoint.id, false);
  const send = (seq) => inTenant(pool, tenant, (c) => w.send({ eventType: "item.changed", orderingKey: "R", payload: { key: "R", seq } }, { tx: c }));
  const e = await pool.connect();
  const r = await pool.connect();
  try {
    await send(1);
    await expand(e);
    await e.query("COMMIT");
    await begin(r);
    const [claimed] = await q(r, "claimLanes", [10, "race", 60_000]);
    await r.query("COMMIT");
    assert.equal(Number(claimed.lane_seq), 1);

    // R:2 is fanned out (lane row locked, not committed) while R:1's success is recorded.
    await send(2);
    await expand(e);
    const plan = engine.recordBatch([recordInput(claimed, { status: 204 })], Date.now(), [0]);
    await begin(r);
    // The server process of this transaction: through PgBouncer the client's processID is the
    // pooler's, so ask the transaction itself.
    const { rows: [{ pid }] } = await r.query("SELECT pg_backend_pid() AS pid");
    const recording = q(r, "recordDeliveries", plan.recordDeliveries);
    await until("the record to wait for the lane's row", async () => (await pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [pid])).rows.length === 1);
    await e.query("COMMIT");
    assert.equal((await recording).length, 1);
    await r.query("COMMIT");
  } finally {
    e.release();
    r.release();
  }
  const [lane] = await asSystem(pool, "SELECT state, head_seq::int, assign_seq::int FROM webhook_lanes WHERE endpoint_id = $1", [endpointId]);
  assert.deepEqual(lane, { state: "ready", head_seq: 2, assign_seq: 2 });
  await w.drain({ maxMs: 5_000 });
  assert.deepEqual(seen("R"), [2]);
});
