// What a process sends PostgreSQL through node-postgres, counted at the client: statements (a
// simple query holding several counts each) and round trips (a query that has to wait for the
// answers to the ones before it starts one; a query pipelined behind others shares theirs).
// The benches print these per request or mutation, so a change in a ratio can be traced to it.

/** Statements in a query text: its `;`-separated parts (bench queries hold no `;` in literals). */
const statementsIn = (text) => text.split(";").filter((s) => s.trim()).length;

/** Starts counting on every pg.Client; returns the live counters. */
export function countWire(pg) {
  const counts = { statements: 0, roundTrips: 0 };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (config, ...rest) {
    const text = typeof config === "string" ? config : config?.text;
    if (typeof text === "string") {
      counts.statements += statementsIn(text);
      const waiting = this._activeQuery || this._sentQueryQueue?.length || this._queryQueue?.length;
      if (!this.pipeline || !waiting) counts.roundTrips++;
    }
    return query.call(this, config, ...rest);
  };
  return counts;
}

/** Per-operation figures from two snapshots of the counters. */
export function perOperation(before, after, operations) {
  const f = (k) => ((after[k] - before[k]) / operations).toFixed(1);
  return `statements=${f("statements")} roundtrips=${f("roundTrips")}`;
}
