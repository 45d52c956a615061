// The products' transactions on a node-postgres pool (@usebetter-rs/core/db): BEGIN, a scope's
// set-up and the first statement behind it leave without waiting for each other's answers; a
// failure of the statement sent first is the error reported; the client goes back to the pool
// as it came (not pipelining, no transaction open); executors that may reorder statements wait.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { afterFirst, databaseAdapter } from "@usebetter-rs/core/db";
import { requireEnv } from "./helpers/db.mjs";

let pool;
before(() => {
  pool = new pg.Pool({ connectionString: requireEnv("DATABASE_URL"), max: 1 });
});
after(() => pool.end());

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
    assert.deepEqual((await client.query("SELECT 2 AS two")).rows, [{ two: 2 }]);
    assert.equal((await client.query("SELECT txid_current_if_assigned() AS x")).rows[0].x, null);
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
