// suite: once (scripts/test.sh runs it once; the others run on each backend)
// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The products' transactions on a node-postgres pool (@usebetter-rs/core/db): BEGIN, a scope's
// set-up and the first statement behind it leave without waiting for each other's answers; a
// failure of the statement sent first is the error reported; a transaction's `last` statement
// takes COMMIT with it; the client goes back to the pool as it came (not pipelining, no
// transaction open); executors that may reorder statements wait.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { afterFirst, databaseAdapter } from "@usebetter-rs/core/db";
import { requireEnv } from "./helpers/db.mjs";

let pool;
/** What each release of a pooled client found still unanswered on it (must be nothing). */
const leftovers = [];
before(async () => {
  pool = new pg.Pool({ connectionString: requireEnv("DATABASE_URL"), max: 1 });
  await pool.query(
    "DROP TABLE IF EXISTS db_transaction_rows, db_transaction_deferred; CREATE TABLE db_transaction_rows (id int PRIMARY KEY); CREATE TABLE db_transaction_deferred (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)",
  );
  // Checked at the moment of release: an answer still due then would be read by the client's
  // next user (a query answered with another statement's rows).
  pool.on("acquire", (client) => {
    if (client.release.checked) return;
    const release = client.release;
    client.release = function (err) {
      if (this._activeQuery || this._sentQueryQueue?.length || this._queryQueue?.length) leftovers.push(err ? "destroyed" : "released");
      return release.call(this, err);
    };
    client.release.checked = true;
  });
});
after(async () => {
  await pool.query("DROP TABLE IF EXISTS db_transaction_rows, db_transaction_deferred");
  await pool.end();
  assert.deepEqual(leftovers, [], "no client went back to the pool with an answer still due");
});

/**
 * Records each query submitted on `client`: whether an earlier one was still unanswered
 * (`behind`), and whether it went to the socket at once or was queued until those answers
 * (`written`).
 */
function watch(client) {
  const seen = [];
  const query = client.query;
  client.query = function (config, ...rest) {
    const text = typeof config === "string" ? config : config?.text;
    const behind = Boolean(this._activeQuery || this._sentQueryQueue?.length || this._queryQueue?.length);
    const out = query.call(this, config, ...rest);
    seen.push({ text, behind, written: this._queryQueue.length === 0 });
    return out;
  };
  return { seen, restore: () => (client.query = query) };
}

test("BEGIN, the set-up and the first statement share a round trip; the answer is the statement's", async () => {
  const client = await pool.connect();
  const w = watch(client);
  client.release();
  try {
    const db = databaseAdapter(pool);
    const rows = await db.transaction((ex) =>
      afterFirst(
        ex,
        () => ex.query("SELECT set_config('ub.test', 'scoped', true)", []),
        () => ex.query("SELECT current_setting('ub.test') AS v", []),
      ),
    );
    assert.deepEqual(rows, [{ v: "scoped" }]);
    assert.deepEqual(
      w.seen.map((q) => [q.text.split(" ")[0], q.behind, q.written]),
      [
        ["BEGIN", false, true],
        ["SELECT", true, true],
        ["SELECT", true, true],
        ["COMMIT", false, true],
      ],
    );
    // Transaction-local: nothing of it stays on the connection.
    assert.deepEqual((await pool.query("SELECT current_setting('ub.test', true) AS v")).rows, [{ v: "" }]);
  } finally {
    w.restore();
  }
});

test("a failed first statement is the error, not the aborted transaction behind it; the client is clean after", async () => {
  const db = databaseAdapter(pool);
  let second;
  await assert.rejects(
    db.transaction((ex) =>
      afterFirst(
        ex,
        () => ex.query("SELECT 1 / 0", []),
        async () => {
          second = ex.query("SELECT 1 AS one", []);
          return second;
        },
      ),
    ),
    (err) => err.code === "22012",
  );
  // The statement behind it did run, and failed because the transaction was aborted.
  await assert.rejects(second, (err) => err.code === "25P02");
  const client = await pool.connect();
  try {
    assert.equal(client.pipeline, false, "the pool's client is handed back without pipelining");
    assert.equal(client.getTransactionStatus(), "I", "no transaction left open");
    assert.deepEqual((await client.query("SELECT 2 AS two")).rows, [{ two: 2 }]);
  } finally {
    client.release();
  }
});

test("the work's own failure is reported when the first statement succeeded", async () => {
  const db = databaseAdapter(pool);
  await assert.rejects(
    db.transaction((ex) =>
      afterFirst(
        ex,
        () => ex.query("SELECT 1", []),
        () => ex.query("SELECT * FROM no_such_table_here", []),
      ),
    ),
    (err) => err.code === "42P01",
  );
});

test("an executor that does not keep statements in order makes the work wait for the first answer", async () => {
  const order = [];
  let answer;
  const ex = {
    query: (text) =>
      new Promise((resolve) => {
        order.push(`start ${text}`);
        answer = () => (order.push(`end ${text}`), resolve([]));
      }),
  };
  const done = afterFirst(ex, () => ex.query("first"), () => ex.query("second"));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ["start first"]);
  answer();
  await new Promise((r) => setImmediate(r));
  answer();
  await done;
  assert.deepEqual(order, ["start first", "end first", "start second", "end second"]);
});

test("`last` sends COMMIT behind the statement, without waiting; its rows once both are answered", async () => {
  const client = await pool.connect();
  const w = watch(client);
  client.release();
  try {
    const rows = await databaseAdapter(pool).transaction((ex) => afterFirst(ex, () => ex.query("SELECT 1", []), () => ex.last("INSERT INTO db_transaction_rows VALUES (1) RETURNING id", [])));
    assert.deepEqual(rows, [{ id: 1 }]);
    assert.deepEqual(
      w.seen.map((q) => [q.text.split(" ")[0], q.behind, q.written]),
      [
        ["BEGIN", false, true],
        ["SELECT", true, true],
        ["INSERT", true, true],
        ["COMMIT", true, true],
      ],
    );
  } finally {
    w.restore();
  }
  // Committed: another connection sees it.
  const other = new pg.Client({ connectionString: requireEnv("DATABASE_URL") });
  await other.connect();
  try {
    assert.deepEqual((await other.query("SELECT id FROM db_transaction_rows")).rows, [{ id: 1 }]);
  } finally {
    await other.end();
  }
});

test("a failed `last` statement is the error; its COMMIT rolled back; nothing may follow it", async () => {
  const db = databaseAdapter(pool);
  await assert.rejects(
    db.transaction(async (ex) => {
      await ex.query("INSERT INTO db_transaction_rows VALUES (2)", []);
      return ex.last("INSERT INTO db_transaction_rows VALUES (1)", []);
    }),
    (err) => err.code === "23505",
  );
  assert.deepEqual((await pool.query("SELECT id FROM db_transaction_rows ORDER BY id")).rows, [{ id: 1 }], "the row written before it is rolled back");
  let after;
  await db.transaction(async (ex) => {
    const rows = await ex.last("SELECT 3 AS three", []);
    after = ex.query("INSERT INTO db_transaction_rows VALUES (4)", []);
    return rows;
  });
  await assert.rejects(after, (err) => err.code === "INTERNAL");
  assert.deepEqual((await pool.query("SELECT count(*)::int AS n FROM db_transaction_rows WHERE id = 4")).rows, [{ n: 0 }]);
});

test("a COMMIT sent by `last` that fails (a deferred constraint) is the error, and nothing is kept", async () => {
  const db = databaseAdapter(pool);
  await assert.rejects(
    db.transaction(async (ex) => {
      await ex.query("INSERT INTO db_transaction_deferred VALUES (1)", []);
      return ex.last("INSERT INTO db_transaction_deferred VALUES (1) RETURNING id", []);
    }),
    (err) => err.code === "23505",
  );
  assert.deepEqual((await pool.query("SELECT count(*)::int AS n FROM db_transaction_deferred")).rows, [{ n: 0 }]);
  const client = await pool.connect();
  try {
    assert.equal(client.getTransactionStatus(), "I");
  } finally {
    client.release();
  }
});

test("a `last` statement refused by the server leaves nothing unanswered on the client it releases", async () => {
  const db = databaseAdapter(pool);
  for (let i = 0; i < 20; i++) {
    await assert.rejects(
      db.transaction((ex) => ex.last("SELECT 1 / 0", [])),
      (err) => err.code === "22012",
    );
    assert.deepEqual((await pool.query("SELECT 42 AS v")).rows, [{ v: 42 }]);
  }
});
