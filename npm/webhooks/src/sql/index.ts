import { databaseAdapter } from "@usebetter-rs/core/db";
import type { Executor, WebhooksDatabase } from "../db";

export type { Executor, WebhooksDatabase };

/**
 * The adapter for a plain SQL client: a node-postgres `Pool` or a postgres.js `sql` (Kysely
 * and Knex expose theirs). `opts.tx` is then the client of the application's transaction
 * (a node-postgres `PoolClient` inside BEGIN, or postgres.js' transaction `sql`).
 */
export function sqlExecutorAdapter(pool: unknown): WebhooksDatabase {
  return databaseAdapter(pool, "WEBHOOKS_INVALID_ARGUMENT");
}
