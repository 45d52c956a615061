// postgres.js (3.4.x) when a transaction's connection dies: sql.begin() rejects at once (it races
// the connection's close), but the transaction's callback is still running, and when it ends
// postgres.js sends COMMIT or ROLLBACK on that connection object. By then its socket is gone, so
// the write throws from a timer and ends the process; or the pool has already reconnected the
// object, and the statement lands in another caller's transaction. So a scope's callback, once its
// work is done, lets one turn of the event loop pass (a close that has happened by then has
// rejected the transaction) and, if the transaction is over, never settles: nothing more is
// written for it. After that turn COMMIT/ROLLBACK go out before any further socket event can run,
// and a close that comes later finds them already written.

type Transactional<TTx> = { transaction<T>(cb: (tx: TTx) => Promise<T>): Promise<T> };

/** True when a Drizzle database runs on postgres.js (its session's client has begin and reserve). */
export function isPostgresJs(db: unknown): boolean {
  const client = (db as { _?: { session?: { client?: unknown } } })._?.session?.client as
    | { begin?: unknown; reserve?: unknown }
    | undefined;
  return typeof client?.begin === "function" && typeof client.reserve === "function";
}

const nextTurn = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** `db.transaction(work)` that never lets postgres.js write on a connection it has lost. */
export function postgresJsTransaction<TTx, T>(db: Transactional<TTx>, work: (tx: TTx) => Promise<T>): Promise<T> {
  let settled = false;
  const transaction = db.transaction(async (tx) => {
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: await work(tx) };
    } catch (error) {
      outcome = { error };
    }
    await nextTurn();
    if (settled) return new Promise<T>(() => {});
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  });
  const end = () => {
    settled = true;
  };
  transaction.then(end, end);
  return transaction;
}
