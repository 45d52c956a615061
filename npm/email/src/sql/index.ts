import { databaseAdapter } from "@usebetter-rs/core/db";
import type { EmailDatabase } from "../db";

export type { EmailDatabase };

/**
 * The adapter for a plain SQL client: a node-postgres `Pool` or a postgres.js `sql`. `opts.tx`
 * is then the client of the application's transaction (a node-postgres `PoolClient` inside
 * BEGIN, or postgres.js' transaction `sql`).
 */
export function sqlEmailAdapter(pool: unknown): EmailDatabase {
  return databaseAdapter(pool, "EMAIL_INVALID_ARGUMENT");
}
