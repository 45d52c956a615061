// Tables under trigger capture (`better-audit migrate --triggers`) record every row change
// themselves, so the proxy stands down for them: it runs the mutation as written, after handing
// the trigger the actor, tenant and metadata as transaction-local settings. The set of such
// tables is read from the catalog once per proxy. Both statements are the core's.
import { sql, type SQL } from "drizzle-orm";
import { currentTenantId, getAuditContext } from "../context";
import { contract } from "../store";
import { bind, rowsOf } from "./adapter";

type Executes = { execute(q: SQL): Promise<unknown> };

/** A loader of the trigger-captured table names, cached after the first successful read. */
export function triggerTables(): (handle: Executes) => Promise<Set<string>> {
  let known: Promise<Set<string>> | undefined;
  return (handle) => {
    known ??= handle.execute(sql.raw(contract().triggeredTables)).then((r) => new Set(rowsOf(r).map((row) => String(row.name))));
    known.catch(() => (known = undefined));
    return known;
  };
}

/** The statement that gives the trigger this request's actor, tenant and metadata. */
export function contextSettings(): SQL {
  const ctx = getAuditContext();
  const metadata = ctx?.metadata ? JSON.stringify(ctx.metadata) : "";
  return bind(contract().contextSettings, [ctx?.actorId ?? "", currentTenantId() ?? "", metadata]);
}
