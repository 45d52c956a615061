import { databaseAdapter, type AdapterOptions } from "@usebetter-rs/core/db";
import type { EmailDatabase } from "../db";

export type { EmailDatabase };

/**
 * The adapter for a plain SQL client: a node-postgres `Pool` or a postgres.js `sql`. `opts.tx`
 * is then the client of the application's transaction (a node-postgres `PoolClient` inside
 * BEGIN, or postgres.js' transaction `sql`).
 *
 * `options.prepare`: statements go as named prepared statements (node-postgres), parsed and
 * planned once per connection; off by default, since PgBouncer in transaction mode needs 1.21+
 * with `max_prepared_statements` for them.
 */
export function sqlEmailAdapter(pool: unknown, options?: AdapterOptions): EmailDatabase {
  return databaseAdapter(pool, "EMAIL_INVALID_ARGUMENT", undefined, options);
}
