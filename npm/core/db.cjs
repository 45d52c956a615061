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

function executorOf(handle, code = "INVALID_ARGUMENT") {
  if (handle && typeof handle.query === "function") {
    return { query: async (text, values) => (await handle.query(text, values)).rows };
  }
  if (handle && typeof handle.unsafe === "function") {
    return { query: async (text, values) => [...(await handle.unsafe(text, values.map(arrayAsLiteral)))] };
  }
  throw fail("expected a node-postgres client or pool, or a postgres.js sql", code);
}

async function transactionOn(handle, fn, code = "INVALID_ARGUMENT") {
  if (handle && typeof handle.connect === "function") {
    const client = await handle.connect();
    // A checked-out node-postgres client re-emits its connection's failure as an 'error' event,
    // which ends the process if nobody listens; the failed query rejects all the same.
    let broken;
    const onError = (err) => {
      broken = broken || err;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const out = await fn(executorOf(client, code));
      await client.query("COMMIT");
      return out;
    } catch (err) {
      // A connection that cannot roll back goes; one that did can serve the next caller.
      await client.query("ROLLBACK").catch((e) => (broken = broken || e));
      throw err;
    } finally {
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

/**
 * An adapter over a driver handle: its autocommit executor, transactions on it, and the
 * executor of an application transaction object (`toClient` finds the driver client in it).
 */
function databaseAdapter(handle, code = "INVALID_ARGUMENT", toClient = (tx) => tx) {
  const base = executorOf(handle, code);
  // The product's name for the one warning, from its error-code prefix (WEBHOOKS_…, EMAIL_…).
  hearDriver(handle, `better-${code.split("_")[0].toLowerCase()}`);
  return {
    base: () => base,
    transaction: (fn) => transactionOn(handle, fn, code),
    fromTx: (tx) => executorOf(toClient(tx), code),
  };
}

/**
 * The adapter for a Drizzle database on node-postgres or postgres.js, named `name` in errors: it
 * runs on the driver client of the Drizzle transaction it is given (`session.client`).
 */
function drizzleAdapter(db, code, name) {
  const client = db && db.$client;
  if (client === undefined) throw fail(`${name}(db): expected a Drizzle database (drizzle-orm/node-postgres or postgres-js)`, code);
  return databaseAdapter(client, code, (tx) => (tx && tx.session && tx.session.client) || tx);
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

module.exports = { arrayAsLiteral, executorOf, transactionOn, databaseAdapter, drizzleAdapter, ambientTransaction, jsonValue, jsonRows };
