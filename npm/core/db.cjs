"use strict";
// How the products reach the application's PostgreSQL through whatever it already uses: an
// executor runs one statement with parameters on a node-postgres client or pool, or on a
// postgres.js `sql`; a transaction is opened on either; the ambient @usebetterdev/tenant scope
// lends its transaction. One copy for @usebetterdev/webhooks and @usebetterdev/email.
const { TENANT_CONTEXT } = require("./shared.cjs");
const { guardPostgresJs, hearDriver, isPostgresJsSql, postgresJsTransaction } = require("./connections.cjs");

function fail(message, code) {
  return Object.assign(new TypeError(message), { code });
}

function hex(b) {
  let s = "\\x";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/**
 * A JS array as a PostgreSQL array literal (`{"a","b",NULL}`), as node-postgres sends arrays:
 * postgres.js serialises an array parameter only for element types it knows (not uuid, for
 * one), so the server parses the literal into the parameter's type instead.
 */
function arrayAsLiteral(v) {
  if (!Array.isArray(v)) return v;
  const element = (x) => {
    if (x === null || x === undefined) return "NULL";
    if (Array.isArray(x)) return arrayAsLiteral(x);
    const text = x instanceof Date ? x.toISOString() : x instanceof Uint8Array ? hex(x) : String(x);
    return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  };
  return `{${v.map(element).join(",")}}`;
}

/**
 * The name a statement is prepared under: `ub_` and a 64-bit FNV-1a hash of its text, so the
 * same text always gets the same name, on every connection, and two texts never share one.
 */
const preparedNames = new Map();
function preparedName(text) {
  let name = preparedNames.get(text);
  if (name === undefined) {
    let h = 0xcbf29ce484222325n;
    for (let i = 0; i < text.length; i++) h = ((h ^ BigInt(text.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn;
    name = `ub_${h.toString(16)}`;
    preparedNames.set(text, name);
  }
  return name;
}

/**
 * `prepare`: node-postgres statements are sent as named prepared statements, parsed and planned
 * once per connection instead of on every call (PgBouncer in transaction mode needs 1.21+ with
 * `max_prepared_statements`; leave it off before that). postgres.js follows its own `prepare`
 * option.
 */
function executorOf(handle, code = "INVALID_ARGUMENT", prepare = false) {
  if (handle && typeof handle.query === "function") {
    // A pipelining node-postgres client writes its statements in the order submitted, without
    // waiting for answers (a pool, or a client that queues instead, is not `ordered`).
    const ordered = handle.pipeline === true && typeof handle.connection === "object" && handle.connection !== null;
    if (prepare) return { ordered, query: async (text, values) => (await handle.query({ name: preparedName(text), text, values })).rows };
    return { ordered, query: async (text, values) => (await handle.query(text, values)).rows };
  }
  if (handle && typeof handle.unsafe === "function") {
    return { query: async (text, values) => [...(await handle.unsafe(text, values.map(arrayAsLiteral)))] };
  }
  throw fail("expected a node-postgres client or pool, or a postgres.js sql", code);
}

/**
 * The value of `work()` once `first` (a statement sent ahead of it on the same transaction) has
 * succeeded. When `first` failed, its error is the one thrown: the statements behind it failed
 * only because the transaction was aborted. `work` is awaited either way, so nothing is still
 * running on the connection when this settles.
 */
async function settledAfter(first, work) {
  first.catch(() => undefined);
  let out;
  try {
    out = await work();
  } catch (err) {
    await first;
    throw err;
  }
  await first;
  return out;
}

/**
 * Runs `first()` and then `work()` on the transaction of executor `ex`. Where the executor keeps
 * its statements in order (a node-postgres client), `work` starts without waiting for `first`'s
 * answer, so both leave in one round trip; elsewhere (a Prisma transaction, whose statements
 * may overtake each other) it waits.
 */
function afterFirst(ex, first, work) {
  return ex.ordered ? settledAfter(first(), work) : first().then(work);
}

async function transactionOn(handle, fn, code = "INVALID_ARGUMENT", prepare = false) {
  if (handle && typeof handle.connect === "function") {
    const client = await handle.connect();
    // A checked-out node-postgres client re-emits its connection's failure as an 'error' event,
    // which ends the process if nobody listens; the failed query rejects all the same.
    let broken;
    const onError = (err) => {
      broken = broken || err;
    };
    client.on("error", onError);
    // node-postgres 8.17+ pipelines on request: BEGIN and the callback's first statements
    // leave without waiting for each other's answers (a worker's claim or record is one round
    // trip and COMMIT instead of one per statement). Older versions queue them as before.
    const toggled = typeof client.pipeline === "boolean" && Array.isArray(client._sentQueryQueue) && !client.pipeline;
    if (toggled) client.pipeline = true;
    // Set once `last` has sent COMMIT: the transaction ends with that statement.
    let ended;
    const inner = executorOf(client, code, prepare);
    const ex = {
      ordered: inner.ordered,
      query(text, values) {
        if (ended) return Promise.reject(fail("a statement after the transaction's last one", "INTERNAL"));
        return inner.query(text, values);
      },
      // The transaction's last statement, with COMMIT sent right behind it (one round trip for
      // both). A statement the server refuses makes that COMMIT a rollback, and its error is the
      // one thrown; one that fails in the client (its parameters, its rows' parsing) does not
      // stop the COMMIT, so the statements before it may have committed. Settles only once both
      // are answered: nothing of the transaction is left on the connection.
      last(text, values) {
        if (ended) return Promise.reject(fail("a statement after the transaction's last one", "INTERNAL"));
        const rows = inner.query(text, values);
        const commit = client.query("COMMIT");
        ended = Promise.allSettled([rows, commit]).then(([r, c]) => {
          if (r.status === "rejected") throw r.reason;
          if (c.status === "rejected") throw c.reason;
          return r.value;
        });
        return ended;
      },
    };
    try {
      const out = await settledAfter(client.query("BEGIN"), () => fn(ex));
      if (!ended) await client.query("COMMIT");
      return out;
    } catch (err) {
      // A connection that cannot roll back goes; one that did can serve the next caller.
      // (After `last`'s COMMIT the transaction is over either way: committed or rolled back.)
      if (!ended) await client.query("ROLLBACK").catch((e) => (broken = broken || e));
      throw err;
    } finally {
      // A `last` the callback did not await is answered before the client goes back.
      if (ended) await ended.catch(() => undefined);
      // Anything still unanswered would be read by the client's next user: the connection goes.
      if (client._activeQuery || client._sentQueryQueue?.length || client._queryQueue?.length) {
        broken = broken || new Error("the transaction ended with statements still unanswered");
      }
      if (toggled) client.pipeline = false;
      client.removeListener("error", onError);
      client.release(broken);
    }
  }
  if (isPostgresJsSql(handle)) {
    guardPostgresJs(handle);
    return postgresJsTransaction((cb) => handle.begin(cb), (sql) => fn(executorOf(sql, code)));
  }
  throw fail("the database handle cannot open transactions", code);
}

/** The adapters' options: `{ prepare?: boolean }` (see `executorOf`), checked. */
function prepareOption(options, code) {
  if (options === undefined) return false;
  if (typeof options !== "object" || options === null) throw fail("invalid `options`: expected { prepare?: boolean }", code);
  for (const k of Object.keys(options)) if (k !== "prepare") throw fail(`invalid \`options\`: unknown key \`${k}\` (expected prepare)`, code);
  if (options.prepare !== undefined && typeof options.prepare !== "boolean") throw fail("invalid `options.prepare`: expected a boolean", code);
  return options.prepare === true;
}

/**
 * An adapter over a driver handle: its autocommit executor, transactions on it, and the
 * executor of an application transaction object (`toClient` finds the driver client in it).
 */
function databaseAdapter(handle, code = "INVALID_ARGUMENT", toClient = (tx) => tx, options = undefined) {
  const prepare = prepareOption(options, code);
  const base = executorOf(handle, code, prepare);
  // The product's name for the one warning, from its error-code prefix (WEBHOOKS_…, EMAIL_…).
  hearDriver(handle, `better-${code.split("_")[0].toLowerCase()}`);
  return {
    base: () => base,
    transaction: (fn) => transactionOn(handle, fn, code, prepare),
    fromTx: (tx) => executorOf(toClient(tx), code, prepare),
  };
}

/**
 * The adapter for a Drizzle database on node-postgres or postgres.js, named `name` in errors: it
 * runs on the driver client of the Drizzle transaction it is given (`session.client`).
 */
function drizzleAdapter(db, code, name, options = undefined) {
  const client = db && db.$client;
  if (client === undefined) throw fail(`${name}(db): expected a Drizzle database (drizzle-orm/node-postgres or postgres-js)`, code);
  return databaseAdapter(client, code, (tx) => (tx && tx.session && tx.session.client) || tx, options);
}

function ambientTransaction() {
  const ctx = globalThis[TENANT_CONTEXT]?.getStore();
  if (ctx?.database === undefined) return undefined;
  return { database: ctx.database, ...(ctx.tenantId ? { tenantId: ctx.tenantId } : {}), ...(ctx.isSystem ? { isSystem: true } : {}) };
}

function jsonValue(v) {
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return hex(v);
  if (typeof v === "bigint") return v.toString();
  return v;
}

function jsonRows(rows) {
  return rows.map((r) => {
    const o = {};
    for (const k of Object.keys(r)) o[k] = jsonValue(r[k]);
    return o;
  });
}

module.exports = { afterFirst, arrayAsLiteral, executorOf, transactionOn, databaseAdapter, drizzleAdapter, ambientTransaction, jsonValue, jsonRows };
