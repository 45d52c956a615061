// Tables under trigger capture (`better-audit migrate --triggers`) record every row change
// themselves, so the proxy stands down for them: it runs the mutation as written, after handing
// the trigger the actor, tenant and metadata as transaction-local settings. The set of such
// tables is read from the catalog once per proxy.
import { sql, type SQL } from "drizzle-orm";
import { currentTenantId, getAuditContext } from "../context";

type Executes = { execute(q: SQL): Promise<unknown> };

const rowsOf = (r: unknown): Record<string, unknown>[] => (Array.isArray(r) ? r : ((r as { rows?: Record<string, unknown>[] }).rows ?? []));

/** A loader of the trigger-captured table names, cached after the first successful read. */
export function triggerTables(): (handle: Executes) => Promise<Set<string>> {
  let known: Promise<Set<string>> | undefined;
  return (handle) => {
    known ??= handle
      .execute(sql`select c.relname::text as name from pg_trigger t join pg_class c on c.oid = t.tgrelid where t.tgname = 'usebetter_audit' and not t.tgisinternal`)
      .then((r) => new Set(rowsOf(r).map((row) => String(row.name))));
    known.catch(() => (known = undefined));
    return known;
  };
}

/** The statement that gives the trigger this request's actor, tenant and metadata. */
export function contextSettings(): SQL {
  const ctx = getAuditContext();
  const metadata = ctx?.metadata ? JSON.stringify(ctx.metadata) : "";
  return sql`select set_config('usebetter.audit_actor', ${ctx?.actorId ?? ""}, true), set_config('usebetter.audit_tenant', ${currentTenantId() ?? ""}, true), set_config('usebetter.audit_metadata', ${metadata}, true)`;
}
