import { drizzleAdapter, type AdapterOptions, type DrizzleTransactionOf } from "@usebetter-rs/core/db";
import type { WebhooksDatabase } from "../db";

export type { DrizzleTransactionOf };

/**
 * The adapter for a Drizzle database on node-postgres or postgres.js: `send()` runs on the
 * driver client of the Drizzle transaction it is given (or of the tenant scope's), so the
 * message commits or rolls back with the application's writes.
 */
export function drizzleWebhooksAdapter<D>(db: D, options?: AdapterOptions): WebhooksDatabase<DrizzleTransactionOf<D>> {
  return drizzleAdapter(db, "WEBHOOKS_INVALID_ARGUMENT", "drizzleWebhooksAdapter", options);
}
