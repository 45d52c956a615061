// What the webhooks suites share: a fresh database migrated for webhooks, used as the `app`
// role (neither superuser nor BYPASSRLS), and transactions in a tenant's scope or in system
// context, set up as @usebetterdev/tenant does.
import pg from "pg";
import { sqlExecutorAdapter } from "@usebetterdev/webhooks/sql";
import core from "@usebetter-rs/core";
import { freshDatabase, requireEnv } from "./db.mjs";

/** betterWebhooks() configuration on `pool` for loopback receivers, secrets sealed with `key`, fast retries; `extra` adds or replaces keys. */
export function loopbackConfig(pool, key, extra = {}) {
  return {
    database: sqlExecutorAdapter(pool),
    eventTypes: ["invoice.paid"],
    secretsKey: key,
    network: { allowHttp: true, allowNetworks: ["127.0.0.1/32"] },
    delivery: { retrySchedule: [0.05, 0.05, 0.05], jitter: 0 },
    ...extra,
  };
}

/** A fresh database and a pool on it as `app`; `drop()` ends the pool and drops the database. */
export async function webhooksDatabase(prefix, max = 6) {
  const db = await freshDatabase(prefix);
  const u = new URL(requireEnv("DATABASE_URL"));
  const pool = new pg.Pool({ host: u.hostname, port: Number(u.port), user: "app", password: "app", database: db.name, max });
  return {
    pool,
    name: db.name,
    async drop() {
      await pool.end();
      await db.drop();
    },
  };
}

/** A pool on `database` as the superuser: calls with `tenantId` outside a scope act as the operator. */
export function operatorPool(database, max = 2) {
  const admin = new URL(requireEnv("ADMIN_DATABASE_URL"));
  return new pg.Pool({ host: admin.searchParams.get("host"), port: Number(admin.searchParams.get("port")), user: "postgres", database, max });
}

/** Runs `fn` while the database refuses INSERTs into `table` whose `column` holds "boom" ("refused by the test"). */
export async function whileRefusing(pool, table, column, fn) {
  await pool.query(`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.${column} LIKE '%boom%' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
  await pool.query(`CREATE TRIGGER refuse_boom BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_boom()`);
  try {
    return await fn();
  } finally {
    await pool.query(`DROP TRIGGER refuse_boom ON ${table}; DROP FUNCTION refuse_boom()`);
  }
}

/** Runs `fn(client)` in one transaction with `settings` applied; commits, or rolls back on a throw. */
export async function transaction(pool, settings, fn) {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    for (const [k, v] of Object.entries(settings)) await c.query("SELECT set_config($1, $2, true)", [k, v]);
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK");
    throw err;
  } finally {
    c.release();
  }
}

/** A transaction in `tenant`'s scope. */
export const inTenant = (pool, tenant, fn) => transaction(pool, { "app.current_tenant": tenant }, fn);

/** One statement in system context; its rows. */
export const asSystem = (pool, text, values = []) => transaction(pool, { "app.bypass_rls": "true" }, async (c) => (await c.query(text, values)).rows);

/**
 * The engine's statements run by hand on one client, for tests that interleave its steps:
 * `begin(c)` opens a system-context transaction, `q(c, name, params)` runs a statement,
 * `expand(c)` fans out the due messages (left uncommitted), `recordInput(row, seen)` is the
 * record input of a claimed row.
 */
export function engineSteps(config) {
  const engine = new core.Webhooks(config, true);
  const sql = engine.statements();
  const q = async (c, name, params) => (await c.query(sql[name].sql, params)).rows;
  const begin = async (c) => {
    const scope = core.scopeSql(null, null, null);
    await c.query("BEGIN");
    await c.query(scope.sql, scope.params);
  };
  return {
    engine,
    sql,
    q,
    begin,
    async expand(c) {
      await begin(c);
      const messages = await q(c, "expandLockMessages", [100]);
      let step = engine.expandStep(messages, null);
      if (step.lockProgress) step = engine.expandStep(messages, await q(c, "expandLockProgress", step.lockProgress));
      if (step.insert) await q(c, "expandInsert", step.insert);
    },
    recordInput: (row, seen) => ({
      deliveryId: row.id,
      leaseToken: row.lease_token,
      tenantId: row.tenant_id,
      messageId: row.message_id,
      endpointId: row.endpoint_id,
      attempt: row.attempt_count,
      trigger: row.trigger,
      laneId: row.lane_id,
      startedAtMs: Date.now(),
      durationMs: 1,
      requestTimestamp: Math.floor(Date.now() / 1000),
      workerId: row.lease_owner ?? "test",
      ...seen,
    }),
  };
}

/**
 * A receiver on loopback that keeps every request (`received`: headers and body text) and
 * answers 204; `url(path)` addresses it, `close()` stops it.
 */
export async function recordingReceiver() {
  const { createServer } = await import("node:http");
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { received, url: (path = "/") => `http://127.0.0.1:${server.address().port}${path}`, close: () => new Promise((r) => server.close(r)) };
}
