"use strict";
// node-postgres emits a connection error (a server restart, a terminated backend) on the client
// that holds the connection, and re-emits an idle client's on the pool; an 'error' event nobody
// listens to ends the process. Tenant scopes listen on their own clients, but Drizzle's own
// transactions (an audit capture's, a seal's, the app's) check out clients no scope sees. So every
// client of the pool gets a listener (the failed query still rejects, and the pool drops the
// broken client on release), and a pool without an 'error' listener gets one that notes the first
// error. Shared by all the packages: one set of listeners per pool, whichever package sees the
// pool first.

const HEARD = Symbol.for("usebetter-rs.pg.heardConnections");
const heard = globalThis[HEARD] || (globalThis[HEARD] = new WeakSet());

/**
 * Listens for connection errors on a driver handle (idempotent): on a node-postgres pool, every
 * client it hands out and the pool itself; on a postgres.js `sql`, see guardPostgresJs.
 */
function hearDriver(handle, product) {
  if (isPostgresJsSql(handle)) return guardPostgresJs(handle);
  if (!handle || typeof handle.on !== "function" || typeof handle.listenerCount !== "function" || heard.has(handle)) return;
  heard.add(handle);
  let warned = false;
  const note = (err) => {
    if (warned) return;
    warned = true;
    console.warn(`${product}: a database connection failed (${err && err.message}); requests using it fail, the pool replaces it; further such errors are not logged`);
  };
  const hear = (client) => {
    if (!client || typeof client.on !== "function" || heard.has(client)) return;
    heard.add(client);
    client.on("error", note);
  };
  // pg-pool announces each new client once ('connect'); the clients it already has are in
  // `_clients`. Listening there rather than on every checkout ('acquire') keeps the listener off
  // each request's path. A pool without that list is heard at each checkout.
  if (Array.isArray(handle._clients)) {
    handle._clients.forEach(hear);
    handle.on("connect", hear);
  } else {
    handle.on("acquire", hear);
  }
  if (handle.listenerCount("error") === 0) handle.on("error", note);
}

/** Listens for connection errors on the driver behind a Drizzle database (node-postgres or postgres.js). */
function hearConnectionErrors(db, product) {
  hearDriver(db && db._ && db._.session && db._.session.client, product);
}

/** True for a postgres.js `sql` (it has begin and reserve). */
function isPostgresJsSql(sql) {
  return typeof sql === "function" && typeof sql.begin === "function" && typeof sql.reserve === "function";
}

// postgres.js (3.4.x) fetches the array types on every new connection and drops the promise of
// that query (porsager/postgres#1192): when the server goes away during it, as it does for each
// connection reconnecting after a restart, the rejection is unhandled and ends the process. The
// parsers it installs are shared by all the pool's connections, so once one connection has
// fetched them, the others need not: when a connection closes (the first sign of a restart), a
// pool whose types are known stops fetching them, and its reconnections open no such window.
function guardPostgresJs(sql) {
  const options = sql.options;
  if (!options || !options.shared || heard.has(options)) return;
  heard.add(options);
  const settle = () => {
    if (options.fetch_types && Object.keys(options.shared.typeArrayMap).length > 0) options.fetch_types = false;
  };
  settle();
  const prior = options.onclose;
  options.onclose = function onclose(...args) {
    settle();
    return prior && prior.apply(this, args);
  };
}

const nextTurn = () => new Promise((resolve) => (typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0)));

// postgres.js (3.4.x) when a transaction's connection dies: sql.begin() rejects at once (it races
// the connection's close), but the transaction's callback is still running, and when it ends
// postgres.js sends COMMIT or ROLLBACK on that connection object. By then its socket is gone, so
// the write throws from a timer and ends the process; or the pool has already reconnected the
// object, and the statement lands in another caller's transaction. So the callback, once its work
// is done, lets one turn of the event loop pass (a close that has happened by then has rejected
// the transaction) and, if the transaction is over, never settles: nothing more is written for
// it. After that turn COMMIT/ROLLBACK go out before any further socket event can run, and a close
// that comes later finds them already written.
/** `begin(work)` (sql.begin or a Drizzle db.transaction on postgres.js) that never writes on a lost connection. */
function postgresJsTransaction(begin, work) {
  let settled = false;
  const transaction = begin(async (tx) => {
    let outcome;
    try {
      outcome = { value: await work(tx) };
    } catch (error) {
      outcome = { error };
    }
    await nextTurn();
    if (settled) return new Promise(() => {});
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  });
  const end = () => {
    settled = true;
  };
  transaction.then(end, end);
  return transaction;
}

module.exports = { hearConnectionErrors, hearDriver, isPostgresJsSql, guardPostgresJs, postgresJsTransaction };
