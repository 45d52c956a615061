// What a process sends PostgreSQL through node-postgres, counted on the wire: statements (each
// Execute of the extended protocol, each `;`-separated part of a simple query) and round trips
// (a Sync or simple query written while the connection has no answer outstanding starts one; one
// written behind others still unanswered shares theirs). Counting the messages, not the calls to
// `query`, sees statements a driver or package writes ahead of the one it was asked for.
// The benches print these per request or mutation, so a change in a ratio can be traced to it.

/** Statements in a query text: its `;`-separated parts (bench queries hold no `;` in literals). */
const statementsIn = (text) => text.split(";").filter((s) => s.trim()).length;

const OUTSTANDING = Symbol("answers outstanding");

/** Starts counting on every pg connection; returns the live counters. */
export function countWire(pg) {
  const counts = { statements: 0, roundTrips: 0 };
  const { _send: send, emit } = pg.Connection.prototype;
  pg.Connection.prototype._send = function (buffer) {
    const type = String.fromCharCode(buffer[0]);
    if (type === "E") counts.statements++;
    if (type === "Q") counts.statements += statementsIn(buffer.toString("utf8", 5, buffer.length - 1));
    if (type === "Q" || type === "S") {
      if (!this[OUTSTANDING]) counts.roundTrips++;
      this[OUTSTANDING] = (this[OUTSTANDING] ?? 0) + 1;
    }
    return send.call(this, buffer);
  };
  pg.Connection.prototype.emit = function (event, ...args) {
    if (event === "readyForQuery" && this[OUTSTANDING]) this[OUTSTANDING]--;
    return emit.call(this, event, ...args);
  };
  return counts;
}

/** Per-operation figures from two snapshots of the counters. */
export function perOperation(before, after, operations) {
  const f = (k) => ((after[k] - before[k]) / operations).toFixed(1);
  return `statements=${f("statements")} roundtrips=${f("roundTrips")}`;
}
