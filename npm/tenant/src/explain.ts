// Database errors a tenant scope can tell apart, explained where they surface: a tenant table
// without the RLS migration (its insert trigger never filled tenant_id) and a row written for
// another tenant (the policy's WITH CHECK refused it). The error keeps its class, code and cause
// (callers may test them); its message gains what is missing and the command that fixes it.

import core from "@usebetter-rs/core";

const EXPLAINED = Symbol.for("usebetterdev.tenant.explained");

type DbError = Error & { code?: unknown; column?: unknown; column_name?: unknown; table?: unknown; table_name?: unknown };

/** The driver's error: the thrown one, or its cause (Drizzle wraps it in DrizzleQueryError). */
function databaseError(err: unknown): DbError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 3; depth++) {
    if (typeof (e as DbError).code === "string" && /^[0-9A-Z]{5}$/.test((e as DbError).code as string)) return e as DbError;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function hint(db: DbError, tenantId: string | null): string | undefined {
  const column = db.column ?? db.column_name;
  const table = String(db.table ?? db.table_name ?? "the table");
  if (db.code === "23502" && column === "tenant_id") {
    return `${table} has no ${core.tenantContract().tenantIdFunction} trigger, so tenant_id stayed empty: list it in tenantTables and run \`better-tenant migrate\` (or \`better-tenant add-table ${table}\`), then apply the SQL`;
  }
  if (db.code === "42501" && /row-level security/.test(db.message)) {
    return tenantId === null
      ? `${table} refused the row under row-level security although this is the system scope: check that its policy allows ${core.tenantContract().bypass} (run \`better-tenant check\`)`
      : `the row's tenant_id is not the current tenant (${tenantId}): a tenant scope writes only its own tenant's rows (leave tenant_id out, or use runAsSystem)`;
  }
  return undefined;
}

/** Adds the explanation to `err`'s message (once) when it is one of the errors above. */
export function explain(err: unknown, tenantId: string | null): unknown {
  const db = databaseError(err);
  if (!db || !(err instanceof Error) || (err as { [EXPLAINED]?: boolean })[EXPLAINED]) return err;
  const text = hint(db, tenantId);
  if (!text) return err;
  Object.defineProperty(err, EXPLAINED, { value: true });
  err.message = `${err.message} (better-tenant: ${text})`;
  return err;
}
