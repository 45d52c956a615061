// Opening a scope's context on its transaction. The statements come from the core; adapters only
// say how to run a statement on their transaction.
import core from "@usebetter-rs/core";

/** Hardened mode: the key that signs each scope's settings (see the migration's hardened mode). */
export interface ScopeOptions {
  readonly key?: string | undefined;
}

export type Rows = ReadonlyArray<Record<string, unknown>>;
/** Runs one parameterised statement on the scope's transaction and returns its rows. */
export type RunStatement = (sql: string, params: readonly string[]) => Promise<Rows>;

/**
 * Sets every context setting of a tenant scope (`tenantId`) or the system scope (`null`).
 * Hardened mode first asks the transaction for its binding, so the signatures are good for this
 * transaction only.
 */
export async function applyScope(run: RunStatement, tenantId: string | null, options: ScopeOptions | undefined): Promise<void> {
  const key = options?.key;
  let binding: string | null = null;
  if (key) binding = bindingOf(await run(core.scopeBindingSql(false), []));
  const statement = core.scopeSql(tenantId, key ?? null, binding, false);
  await run(statement.sql, statement.params);
}

/** The `binding` column of the binding query's one row. */
export function bindingOf(rows: Rows): string {
  const value = rows[0]?.binding;
  if (typeof value !== "string" || value === "") throw new Error("better-tenant: the database returned no transaction binding");
  return value;
}
