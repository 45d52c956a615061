// The reference's low-level query helpers, over the conditions the Rust core compiles (the
// same ones `queryLogs` runs), for callers who build their own Drizzle queries on audit_logs.
import { asc, desc, type SQL } from "drizzle-orm";
import { compileSpec } from "../store";
import { bind } from "./adapter";
import { auditLogs } from "./schema";
import type { AuditQueryFilters } from "../types";

/** The WHERE conditions for `filters` and an optional cursor; `undefined` when none apply. */
export function buildWhereConditions(filters: AuditQueryFilters, cursor?: string, sortOrder: "asc" | "desc" = "desc"): SQL | undefined {
  const spec = cursor === undefined ? { filters, sortOrder, limit: 1 } : { filters, cursor, sortOrder, limit: 1 };
  const q = compileSpec(spec, 1);
  return q.where ? bind(q.where, q.params) : undefined;
}

/** `timestamp, id` in the given direction: the order cursors follow. */
export function buildOrderBy(sortOrder: "asc" | "desc"): SQL[] {
  const dir = sortOrder === "asc" ? asc : desc;
  return [dir(auditLogs.timestamp), dir(auditLogs.id)];
}
