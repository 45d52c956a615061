import { executorOf, transactionOn, type WebhooksDatabase } from "../db";

type DrizzleLike = { $client?: unknown; session?: { client?: unknown } };

/** The transaction type of a Drizzle database (what its `transaction(cb)` hands `cb`). */
export type DrizzleTransactionOf<D> = D extends { transaction(cb: infer C, ...rest: never[]): unknown }
  ? C extends (tx: infer Tx) => unknown
    ? Tx
    : unknown
  : unknown;

/**
 * The adapter for a Drizzle database on node-postgres or postgres.js: `send()` runs on the
 * driver client of the Drizzle transaction it is given (or of the tenant scope's), so the
 * message commits or rolls back with the application's writes.
 */
export function drizzleWebhooksAdapter<D>(db: D): WebhooksDatabase<DrizzleTransactionOf<D>> {
  const client = (db as DrizzleLike).$client;
  if (client === undefined) {
    throw Object.assign(new TypeError("drizzleWebhooksAdapter(db): expected a Drizzle database (drizzle-orm/node-postgres or postgres-js)"), {
      code: "WEBHOOKS_INVALID_ARGUMENT",
    });
  }
  const base = executorOf(client);
  return {
    base: () => base,
    transaction: (fn) => transactionOn(client, fn),
    // A Drizzle transaction keeps its connection in `session.client`.
    fromTx: (tx) => executorOf((tx as DrizzleLike).session?.client ?? tx),
  };
}
