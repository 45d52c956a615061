// `webhooksInbox(db)`: exactly-once processing on top of at-least-once delivery (spec §12). The
// handler runs in a transaction that first claims `(source, webhook-id)` in `webhook_inbox`;
// a redelivery claims nothing and skips the handler, a handler that throws rolls its claim back
// so the sender's retry is processed. The statement is the core's (`inboxInsert`).
import core from "@usebetter-rs/core";
import { guard, WebhooksConfigError } from "../errors";

/** Runs one statement: node-postgres's `query`, postgres.js's `unsafe`, Kysely's `sql.raw`, … */
export interface InboxExecutor {
  execute(text: string, values: unknown[]): Promise<unknown>;
}

/** An executor that can open a transaction; `fn` gets the transaction's executor. */
export interface InboxDatabase<Tx extends InboxExecutor = InboxExecutor> extends InboxExecutor {
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

export interface InboxOptions {
  /** Who sent the deliveries (one inbox can serve several senders); default `"default"`. */
  source?: string;
  /** Schema of the webhook tables (default `public`). */
  schema?: string;
  /** Tenant of the rows (default: the tenant scope's, if any). */
  tenantId?: string | null;
}

export interface WebhooksInbox<Tx extends InboxExecutor = InboxExecutor> {
  readonly source: string;
  /** Runs `fn` in a transaction unless `webhookId` was processed already. */
  process(webhookId: string, fn: (tx: Tx) => Promise<void>): Promise<"processed" | "duplicate">;
}

/** Rows of a result whatever the driver: `{ rows }` (node-postgres) or an array (postgres.js). */
function rowCount(result: unknown): number {
  if (Array.isArray(result)) return result.length;
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? rows.length : 0;
}

export function webhooksInbox<Tx extends InboxExecutor>(db: InboxDatabase<Tx>, options: InboxOptions = {}): WebhooksInbox<Tx> {
  if (typeof db !== "object" || db === null || typeof db.transaction !== "function" || typeof db.execute !== "function") {
    throw new WebhooksConfigError(
      "WEBHOOKS_INVALID_CONFIG",
      "invalid `inbox` database: expected { transaction(fn), execute(text, values) }, e.g. over a node-postgres pool",
    );
  }
  const source = options.source ?? "default";
  if (typeof source !== "string" || source === "") {
    throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", "invalid `source`: expected a non-empty string");
  }
  const config = options.schema === undefined ? {} : { schema: options.schema };
  const insert = guard(WebhooksConfigError, () => new core.Webhooks(config, false).statements()["inboxInsert"]);
  if (insert === undefined) throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", "the core has no `inboxInsert` statement: rebuild @usebetter-rs/core");
  const sql = insert.sql;
  const tenantId = options.tenantId ?? null;
  return {
    source,
    process(webhookId, fn) {
      return db.transaction(async (tx) => {
        // A concurrent redelivery waits here on the unique index until the first one ends.
        const claimed = rowCount(await tx.execute(sql, [tenantId, source, webhookId]));
        if (claimed === 0) return "duplicate" as const;
        await fn(tx);
        return "processed" as const;
      });
    },
  };
}
