// What the console endpoints ask of the audit trail, over the storage adapter's own query,
// lookup, stats and purge (the SQL is theirs). Pages keep the reference's shapes and flags;
// their cursors keep microseconds, so paging either way neither skips nor repeats an entry.
import { coded } from "./errors";
import core from "@usebetter-rs/core";
import { exportLogs } from "./export";
import { AuditQueryBuilder } from "./query";
import { EXACT_TIMESTAMP } from "./store";
import type { EnrichmentSummary, Enrichments } from "./enrich";
import type { AuditDatabaseAdapter, AuditLog, AuditOperation, AuditQueryResult, AuditQuerySpec, AuditSeverity, AuditStats, QueryExecutor } from "./types";

/** The console's filters, as parsed from query parameters (lists are comma-separated). */
export interface ConsoleQueryFilters {
  limit?: number;
  tableName?: string;
  recordId?: string;
  operation?: string;
  actorId?: string;
  severity?: string;
  compliance?: string;
  search?: string;
  cursor?: string;
  direction?: "after" | "before";
  order?: "asc" | "desc";
  since?: Date;
  until?: Date;
}

export interface ConsoleQueryResult extends AuditQueryResult {
  hasNextPage: boolean;
  hasPrevPage: boolean;
}

export interface AuditApi {
  queryLogs(filters?: ConsoleQueryFilters): Promise<ConsoleQueryResult>;
  queryLogsAround(anchorId: string, filters?: ConsoleQueryFilters): Promise<ConsoleQueryResult>;
  getLog(id: string): Promise<AuditLog | null>;
  getStats(options?: { since?: Date; until?: Date }): Promise<AuditStats>;
  getEnrichments(): EnrichmentSummary[];
  exportLogs(filters?: ConsoleQueryFilters, format?: "csv" | "json"): Promise<string>;
  purgeLogs(options: { before: Date; tableName?: string }): Promise<{ deletedCount: number }>;
}

/** Console input the endpoints answer with 400 and this message. */
export class ConsoleInputError extends Error {
  readonly code = "AUDIT_INVALID_QUERY";
}

const SEVERITIES = ["low", "medium", "high", "critical"];
const OPERATIONS = ["INSERT", "UPDATE", "DELETE"];
const list = (raw: string) => [...new Set(raw.split(",").map((v) => v.trim()).filter((v) => v.length > 0))];

/** The adapter query for `f`; bad severities, operations and cursors are refused here. */
function toSpec(f: ConsoleQueryFilters, maxLimit: number): AuditQuerySpec {
  const spec: AuditQuerySpec = { filters: {}, limit: Math.min(f.limit ?? maxLimit, maxLimit) };
  const filters = spec.filters;
  if (f.tableName !== undefined) filters.resource = f.recordId !== undefined ? { tableName: f.tableName, recordId: f.recordId } : { tableName: f.tableName };
  if (f.actorId !== undefined) filters.actorIds = list(f.actorId);
  if (f.severity !== undefined) {
    const levels = list(f.severity);
    const bad = levels.find((v) => !SEVERITIES.includes(v));
    if (bad !== undefined) throw new ConsoleInputError(`Invalid severity "${bad}". Must be one of: ${SEVERITIES.join(", ")}`);
    filters.severities = levels as AuditSeverity[];
  }
  if (f.compliance !== undefined) filters.compliance = [f.compliance];
  if (f.operation !== undefined) {
    const op = f.operation.toUpperCase();
    if (!OPERATIONS.includes(op)) throw new ConsoleInputError(`Invalid operation "${f.operation}". Must be one of: ${OPERATIONS.join(", ")}`);
    filters.operations = [op as AuditOperation];
  }
  if (f.since !== undefined) filters.since = { date: f.since };
  if (f.until !== undefined) filters.until = { date: f.until };
  if (f.search !== undefined) filters.searchText = f.search;
  if (f.cursor !== undefined) {
    try {
      core.decodeCursor(f.cursor);
    } catch (err) {
      throw new ConsoleInputError((err as Error).message);
    }
    spec.cursor = f.cursor;
  }
  if (f.direction === "before") spec.sortOrder = "asc";
  if (f.order !== undefined) spec.sortOrder = f.order;
  return spec;
}

/** The cursor just past `entry`: exact when our store read it, else from its Date. */
function cursorOf(entry: AuditLog): string {
  const exact = (entry as unknown as { [EXACT_TIMESTAMP]?: string })[EXACT_TIMESTAMP];
  return core.encodeCursor(exact ?? new Date(entry.timestamp).toISOString(), entry.id);
}

function required<K extends keyof AuditDatabaseAdapter>(adapter: AuditDatabaseAdapter, method: K, what: string): NonNullable<AuditDatabaseAdapter[K]> {
  const fn = adapter[method];
  if (typeof fn !== "function") throw coded(new Error(`Console API requires a database adapter that implements ${method}(). Check that your ORM adapter supports ${what}.`), "AUDIT_ADAPTER_UNSUPPORTED");
  return (fn as (...args: unknown[]) => unknown).bind(adapter) as NonNullable<AuditDatabaseAdapter[K]>;
}

export function createAuditApi(adapter: AuditDatabaseAdapter, enrichments: Enrichments, maxQueryLimit = 1000): AuditApi {
  const query = () => required(adapter, "queryLogs", "querying");
  const getLog = (id: string) => required(adapter, "getLogById", "querying")(id);

  async function queryLogs(f: ConsoleQueryFilters = {}): Promise<ConsoleQueryResult> {
    const page = await query()(toSpec(f, maxQueryLimit));
    const paged = f.cursor !== undefined;
    if (f.direction === "before") {
      // Read upwards (ascending) from the cursor, shown newest first.
      const entries = [...page.entries].reverse();
      const last = entries.at(-1);
      return {
        entries,
        ...(page.nextCursor !== undefined && { prevCursor: page.nextCursor }),
        hasPrevPage: page.nextCursor !== undefined,
        ...(paged && last && { nextCursor: cursorOf(last) }),
        hasNextPage: paged,
      };
    }
    const first = page.entries[0];
    return {
      entries: page.entries,
      ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
      hasNextPage: page.nextCursor !== undefined,
      hasPrevPage: paged,
      ...(paged && first && { prevCursor: cursorOf(first) }),
    };
  }

  async function queryLogsAround(anchorId: string, f: ConsoleQueryFilters = {}): Promise<ConsoleQueryResult> {
    const run = query();
    const anchor = await getLog(anchorId);
    if (!anchor) return { entries: [], hasNextPage: false, hasPrevPage: false };
    const remaining = Math.max(Math.min(f.limit ?? maxQueryLimit, maxQueryLimit) - 1, 0);
    const { direction: _, ...base } = f;
    const at = cursorOf(anchor);
    // `count` entries beyond the anchor one way, and whether more lie beyond them (also for a
    // count of 0, where the reference always said no).
    const side = async (count: number, sortOrder: "asc" | "desc") => {
      const spec = toSpec({ ...base, cursor: at, limit: Math.max(count, 1) }, maxQueryLimit);
      const page = await run({ ...spec, sortOrder });
      return count ? { entries: page.entries, more: page.nextCursor !== undefined } : { entries: [], more: page.entries.length > 0 };
    };
    const [older, newer] = await Promise.all([side(Math.ceil(remaining / 2), "desc"), side(Math.floor(remaining / 2), "asc")]);
    const entries = [...newer.entries.reverse(), anchor, ...older.entries];
    const oldest = entries.at(-1);
    const newest = entries[0];
    return {
      entries,
      hasNextPage: older.more,
      hasPrevPage: newer.more,
      ...(older.more && oldest && { nextCursor: cursorOf(oldest) }),
      ...(newer.more && newest && { prevCursor: cursorOf(newest) }),
    };
  }

  async function exportAll(f: ConsoleQueryFilters = {}, format: "csv" | "json" = "csv"): Promise<string> {
    const run = query();
    // As the reference: the filters and order apply, a cursor does not, and the export stops
    // at the limit (default maxQueryLimit) — the whole file is one response body.
    const { cursor: _, ...uncursored } = f;
    const spec = toSpec(uncursored, maxQueryLimit);
    let left = spec.limit ?? maxQueryLimit;
    const capped: QueryExecutor = async (pageSpec) => {
      const page = await run({ ...pageSpec, limit: Math.min(pageSpec.limit ?? left, left) });
      const entries = page.entries.slice(0, left);
      left -= entries.length;
      return left > 0 && page.nextCursor !== undefined ? { entries, nextCursor: page.nextCursor } : { entries };
    };
    const builder = new AuditQueryBuilder(capped, spec.filters, spec.limit, undefined, maxQueryLimit, spec.sortOrder);
    const result = await exportLogs(capped, { format, query: builder, output: "string", ...(format === "json" && { jsonStyle: "array" as const }) }, maxQueryLimit);
    return result.data ?? "";
  }

  return {
    queryLogs,
    queryLogsAround,
    getLog,
    getStats: (options) => required(adapter, "getStats", "statistics")(options),
    getEnrichments: () => enrichments.list(),
    exportLogs: exportAll,
    purgeLogs: (options) => required(adapter, "purgeLogs", "log purging")(options),
  };
}
