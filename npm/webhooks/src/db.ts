// How the package reaches PostgreSQL: an executor runs one statement with parameters; an
// adapter knows the application's base handle, how to open a transaction on it, and how to get
// an executor from a transaction object the application passes (`opts.tx`) or the ambient
// tenant scope holds.
import { afterFirst, ambientTransaction, type Database, type Executor } from "@usebetter-rs/core/db";
import { core, jsonRows, type Row } from "./core";
import type { WebhooksStatement } from "@usebetter-rs/core";

export { ambientTransaction, type Executor };

/** `Tx`: the application's transaction type, which `opts.tx` then accepts. */
export interface WebhooksDatabase<Tx = unknown> extends Database<Tx> {
  /** False when the delivery engine must not run on this adapter (its name says why). */
  engine?: string | undefined;
}

/** Runs statement `name` of `statements` with `params`; rows come back as JSON. */
export async function run(ex: Executor, statements: Record<string, WebhooksStatement>, name: string, params: unknown[]): Promise<Row[]> {
  const s = statements[name];
  // The names come from this package and the statements from the same core: a miss is a bug.
  if (!s) throw Object.assign(new Error(`the core has no webhooks statement ${name}`), { code: "INTERNAL" });
  return jsonRows(await ex.query(s.sql, params));
}

/** Opens a system-context transaction (the worker's and operator calls'). */
export async function systemTransaction<T>(db: WebhooksDatabase, settings: string, fn: (ex: Executor) => Promise<T>): Promise<T> {
  return db.transaction((ex) => {
    const scope = core.scopeSql(null, null, null);
    const set = () => ex.query(scope.sql, scope.params);
    return afterFirst(ex, set, () => (settings ? afterFirst(ex, () => ex.query(settings, []), () => fn(ex)) : fn(ex)));
  });
}
