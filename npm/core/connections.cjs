"use strict";
// node-postgres emits a connection error (a server restart, a terminated backend) on the client
// that holds the connection, and re-emits an idle client's on the pool; an 'error' event nobody
// listens to ends the process. Tenant scopes listen on their own clients, but Drizzle's own
// transactions (an audit capture's, a seal's, the app's) check out clients no scope sees. So every
// client the pool hands out gets a listener (the failed query still rejects, and the pool drops the
// broken client on release), and a pool without an 'error' listener gets one that notes the first
// error. Shared by the tenant and audit packages: one set of listeners per pool, whichever
// package sees the pool first.

const HEARD = Symbol.for("usebetter-rs.pg.heardConnections");
const heard = globalThis[HEARD] || (globalThis[HEARD] = new WeakSet());

/** The node-postgres pool behind a Drizzle database, or null for any other driver. */
function poolOf(db) {
  const pool = db && db._ && db._.session && db._.session.client;
  return pool && typeof pool.on === "function" && typeof pool.listenerCount === "function" ? pool : null;
}

/** Listens for connection errors on the pool of a Drizzle node-postgres database (idempotent). */
function hearConnectionErrors(db, product) {
  const pool = poolOf(db);
  if (!pool || heard.has(pool)) return;
  heard.add(pool);
  let warned = false;
  const note = (err) => {
    if (warned) return;
    warned = true;
    console.warn(`${product}: a database connection failed (${err && err.message}); requests using it fail, the pool replaces it; further such errors are not logged`);
  };
  pool.on("acquire", (client) => {
    if (!client || typeof client.on !== "function" || heard.has(client)) return;
    heard.add(client);
    client.on("error", note);
  });
  if (pool.listenerCount("error") === 0) pool.on("error", note);
}

module.exports = { hearConnectionErrors };
