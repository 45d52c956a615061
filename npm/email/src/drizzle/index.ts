import { adapterOver, type EmailDatabase } from "../db";
import { EmailConfigError } from "../errors";

type DrizzleLike = { $client?: unknown; session?: { client?: unknown } };

/** The transaction type of a Drizzle database (what its `transaction(cb)` hands `cb`). */
export type DrizzleTransactionOf<D> = D extends { transaction(cb: infer C, ...rest: never[]): unknown } ? (C extends (tx: infer Tx) => unknown ? Tx : unknown) : unknown;

/**
 * The adapter for a Drizzle database on node-postgres or postgres.js: `send()` runs on the
 * driver client of the Drizzle transaction it is given (or of the tenant scope's), so the
 * message commits or rolls back with the application's writes.
 */
export function drizzleEmailAdapter<D>(db: D): EmailDatabase<DrizzleTransactionOf<D>> {
  const client = (db as DrizzleLike).$client;
  if (client === undefined) {
    throw new EmailConfigError("EMAIL_INVALID_ARGUMENT", "drizzleEmailAdapter(db): expected a Drizzle database (drizzle-orm/node-postgres or postgres-js)");
  }
  // A Drizzle transaction keeps its connection in `session.client`.
  return adapterOver(client, (tx) => (tx as DrizzleLike).session?.client ?? tx) as EmailDatabase<DrizzleTransactionOf<D>>;
}
