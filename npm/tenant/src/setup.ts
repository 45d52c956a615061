// Opening a scope's context on its transaction. The statements come from the core; adapters only
import { codedError } from "./errors";
// say how to run a statement on their transaction.
import core from "@usebetter-rs/core";

/** How a scope opens: adapters receive it from betterTenant() and pass it to `applyScope`. */
export interface ScopeOptions {
  /** Hardened mode: the key that signs the scope's settings. */
  readonly key?: string | undefined;
  /** Transaction-local `statement_timeout` / `lock_timeout` (ms); unset: the server's. */
  readonly statementTimeoutMs?: number | undefined;
  readonly lockTimeoutMs?: number | undefined;
  /** node-postgres pools: longest wait for a connection (ms). */
  readonly acquireTimeoutMs?: number | undefined;
  /** The request is gone: a scope that has no connection yet does not take one. */
  readonly aborted?: (() => boolean) | undefined;
}

export type Rows = ReadonlyArray<Record<string, unknown>>;
/** Runs one parameterised statement on the scope's transaction and returns its rows. */
export type RunStatement = (sql: string, params: readonly string[]) => Promise<Rows>;

/** The statement that sets the scope's context (`binding`: hardened mode; `inline`: plain). */
export function scopeStatement(tenantId: string | null, options: ScopeOptions | undefined, binding: string | null, inline: boolean) {
  return core.scopeSql(tenantId, options?.key ?? null, binding, inline, options?.statementTimeoutMs ?? null, options?.lockTimeoutMs ?? null);
}

/**
 * Sets every context setting of a tenant scope (`tenantId`) or the system scope (`null`).
 * Hardened mode first asks the transaction for its binding, so the signatures are good for this
 * transaction only.
 */
export async function applyScope(run: RunStatement, tenantId: string | null, options: ScopeOptions | undefined): Promise<void> {
  const binding = options?.key ? bindingOf(await run(core.scopeBindingSql(false), [])) : null;
  const statement = scopeStatement(tenantId, options, binding, false);
  await run(statement.sql, statement.params);
}

/** The `binding` column of the binding query's one row. */
export function bindingOf(rows: Rows): string {
  const value = rows[0]?.binding;
  if (typeof value !== "string" || value === "") throw codedError("INTERNAL", "better-tenant: the database returned no transaction binding");
  return value;
}
