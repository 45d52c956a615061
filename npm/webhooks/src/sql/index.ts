import { executorOf, transactionOn, type Executor, type WebhooksDatabase } from "../db";

export type { Executor, WebhooksDatabase };

/**
 * The adapter for a plain SQL client: a node-postgres `Pool` or a postgres.js `sql` (Kysely
 * and Knex expose theirs). `opts.tx` is then the client of the application's transaction
 * (a node-postgres `PoolClient` inside BEGIN, or postgres.js' transaction `sql`).
 */
export function sqlExecutorAdapter(pool: unknown): WebhooksDatabase {
  const base = executorOf(pool);
  return {
    base: () => base,
    transaction: (fn) => transactionOn(pool, fn),
    fromTx: (tx) => executorOf(tx),
  };
}
