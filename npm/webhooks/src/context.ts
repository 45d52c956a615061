// What every part of a `betterWebhooks()` instance shares, and how a call finds its
// transaction: `opts.tx`, else the ambient tenant scope, else (where allowed) autocommit or a
// system-context transaction for an explicit `tenantId`.
import type { WebhooksSettings, WebhooksStatement } from "@usebetter-rs/core";
import type { Mirror } from "./audit";
import { type CoreWebhooks } from "./core";
import { ambientTransaction, systemTransaction, type Executor, type WebhooksDatabase } from "./db";
import { WebhooksError } from "./errors";
import type { CallOptions } from "./types";

export type { CallOptions } from "./types";

export interface Shared {
  core: CoreWebhooks;
  db: WebhooksDatabase;
  settings: WebhooksSettings;
  statements: Record<string, WebhooksStatement>;
  /** Audit mirroring, when `audit` is configured. */
  audit?: Mirror | undefined;
  /** Wakes in-process workers shortly after a send. */
  wake(): void;
}

type Kind = new (code: "WEBHOOKS_NO_TRANSACTION" | "WEBHOOKS_TENANT_MISMATCH" | "WEBHOOKS_TENANT_REQUIRED", message: string) => WebhooksError;

/** The tenant parameter: NULL (the scope's tenant) or an explicit id allowed by the context. */
function tenantParam(opts: CallOptions | undefined, kind: Kind): string | null {
  if (opts?.tenantId === undefined) return null;
  const ambient = ambientTransaction();
  if (ambient && !ambient.isSystem && ambient.tenantId !== opts.tenantId) {
    throw new kind("WEBHOOKS_TENANT_MISMATCH", "`tenantId` is only accepted in system context; inside a tenant scope the scope's tenant is used");
  }
  return opts.tenantId;
}

/**
 * Runs `fn` on the caller's transaction. `autocommit` allows `opts.tx === "autocommit"`;
 * management calls (`system`) may instead run in their own system-context transaction when
 * `tenantId` is given. A send of `several` statements (an idempotency key's claim before its
 * INSERT) without the caller's transaction gets one of its own: a claim committed without its
 * message would make the key's later sends duplicates of nothing.
 */
export async function inTransaction<T>(
  s: Shared,
  opts: CallOptions | undefined,
  kind: Kind,
  fn: (ex: Executor, tenant: string | null) => Promise<T>,
  mode: "send" | "manage",
  several = false,
): Promise<T> {
  const tenant = tenantParam(opts, kind);
  if (opts?.tx !== undefined && opts.tx !== "autocommit") return fn(s.db.fromTx(opts.tx), tenant);
  const ambient = ambientTransaction();
  if (ambient) return fn(s.db.fromTx(ambient.database), tenant);
  if (opts?.tx === "autocommit" || (mode === "send" && !s.settings.requireTransaction)) {
    return several ? s.db.transaction((ex) => fn(ex, tenant)) : fn(s.db.base(), tenant);
  }
  if (mode === "manage" && tenant !== null) return systemTransaction(s.db, "", (ex) => fn(ex, tenant));
  if (mode === "manage") {
    throw new kind("WEBHOOKS_TENANT_REQUIRED", "run this inside a tenant scope (tenant.runAs / the tenant middleware), or pass `{ tenantId }` to act as the operator");
  }
  throw new kind(
    "WEBHOOKS_NO_TRANSACTION",
    "send() needs a transaction: pass `{ tx }` (your Drizzle transaction or client), call it inside a @usebetterdev/tenant scope, or pass `{ tx: \"autocommit\" }` to send on its own",
  );
}
