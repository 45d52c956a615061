// The storage half of an adapter, in plain SQL text with `$n` parameters, so the Drizzle and
// the Prisma adapters run the same statements and read rows the same way; each supplies only
// how to run a statement.
import core from "@usebetter-rs/core";
import type { StoreSql } from "@usebetter-rs/core";
import { jsonText } from "./json";
import { AuditQueryFailedError } from "./query";
import type { AuditDatabaseAdapter, AuditLog, AuditQueryResult, AuditQuerySpec, AuditStats, TimeFilter } from "./types";

export type Row = Record<string, unknown>;
export type RunSql = (text: string, params: unknown[]) => Promise<Row[]>;

const OPERATIONS = ["INSERT", "UPDATE", "DELETE"];

let storeSql: StoreSql | undefined;
/** The core's statements over `audit_logs`. */
export const statements = () => (storeSql ??= core.auditStoreSql());
let jsonColumns: ReadonlySet<string> | undefined;
/**
 * The jsonb columns, as the core lists them (the sealed content parses the same ones); asked on
 * first use, since importing the package loads no compiled code.
 */
const JSON_COLUMNS = { has: (column: string) => (jsonColumns ??= new Set(statements().jsonColumns)).has(column) };
const COLUMN_OF: Record<string, string> = {
  id: "id", timestamp: "timestamp", tableName: "table_name", operation: "operation", recordId: "record_id",
  actorId: "actor_id", beforeData: "before_data", afterData: "after_data", diff: "diff", label: "label",
  description: "description", severity: "severity", compliance: "compliance", notify: "notify", reason: "reason",
  metadata: "metadata", redactedFields: "redacted_fields", tenantId: "tenant_id",
};
/** The entry columns, in table order; sealing adds seq, prev_hash and hash. */
export const ENTRY_COLUMNS: readonly string[] = Object.values(COLUMN_OF);
/** A sealed entry's place in its chain. */
export const SEAL_COLUMNS: readonly string[] = ["seq", "prev_hash", "hash"];
const KEY_OF = Object.fromEntries(Object.entries(COLUMN_OF).map(([k, c]) => [c, k]));
const CAST: Record<string, string> = { id: "uuid", timestamp: "timestamptz", notify: "boolean", tenant_id: "uuid" };

/**
 * Where a read entry stands, exactly: its timestamp as the database's microsecond text, kept
 * out of sight (not enumerable) because drivers hand `timestamp` over as a millisecond Date.
 */
export const EXACT_TIMESTAMP = Symbol("usebetter.audit.exactTimestamp");

/** A stored row as an entry: camelCase keys, absent instead of null, JSON parsed once. */
export function toLog(row: Row): AuditLog {
  const log: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const key = KEY_OF[column];
    if (!key || value === null || value === undefined) continue;
    log[key] = key === "timestamp" && !(value instanceof Date) ? new Date(String(value)) : JSON_COLUMNS.has(column) && typeof value === "string" ? JSON.parse(value) : value;
  }
  if (!OPERATIONS.includes(String(log.operation))) {
    throw new Error(`Invalid audit operation: ${JSON.stringify(log.operation)}. Expected one of: ${OPERATIONS.join(", ")}`);
  }
  if (typeof row.cursor_ts === "string") Object.defineProperty(log, EXACT_TIMESTAMP, { value: row.cursor_ts });
  return log as unknown as AuditLog;
}

/** A row's place in its hash chain (see seal.ts). */
export interface RowSeal {
  seq: number;
  prevHash: string;
  hash: string;
}

/** One entry's column values as written: absent keys left out, ISO timestamps, JSON as text. */
export function columnValues(log: AuditLog): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, column] of Object.entries(COLUMN_OF)) {
    const v = (log as unknown as Record<string, unknown>)[key];
    if (v !== undefined) out.set(column, v instanceof Date ? v.toISOString() : JSON_COLUMNS.has(column) ? jsonText(v, key) : v);
  }
  return out;
}

/** The entry as PostgreSQL will return it: column names, JSON columns as values. */
export function storedRow(values: Map<string, unknown>): Record<string, unknown> {
  return Object.fromEntries([...values].map(([c, v]) => [c, JSON_COLUMNS.has(c) ? JSON.parse(v as string) : v]));
}

/**
 * One multi-row INSERT for a batch of entries; absent keys take the column default. `values`
 * are the entries' columnValues when the caller has them already; `present`, the columns the
 * table has (an older table lacks some), limits the statement to those.
 */
export function insertStatement(logs: AuditLog[], seals?: RowSeal[], values = logs.map(columnValues), present?: ReadonlySet<string>): { text: string; params: unknown[] } {
  const entry = present ? ENTRY_COLUMNS.filter((c) => present.has(c)) : ENTRY_COLUMNS;
  const columns = [...entry, ...(seals ? SEAL_COLUMNS : [])];
  const params: unknown[] = [];
  const tuples = values.map((row, i) => {
    const cells = entry.map((column) => {
      if (!row.has(column)) return "DEFAULT";
      params.push(row.get(column));
      return `$${params.length}::${JSON_COLUMNS.has(column) ? "jsonb" : (CAST[column] ?? "text")}`;
    });
    const seal = seals?.[i];
    if (seal) {
      params.push(seal.seq, seal.prevHash, seal.hash);
      cells.push(`$${params.length - 2}::bigint`, `$${params.length - 1}::text`, `$${params.length}::text`);
    }
    return `(${cells.join(", ")})`;
  });
  const names = columns.map((c) => `"${c}"`).join(", ");
  return { text: `INSERT INTO "audit_logs" (${names}) VALUES ${tuples.join(", ")}`, params };
}

const iso = (t: TimeFilter | undefined) => (t ? ("date" in t && t.date ? { date: t.date.toISOString() } : { duration: (t as { duration: string }).duration }) : undefined);

/** The query spec as the core compiles it (time filters as ISO text or durations). */
export function compileSpec(spec: AuditQuerySpec, maxLimit: number) {
  const filters: Record<string, unknown> = { ...spec.filters, since: iso(spec.filters.since), until: iso(spec.filters.until) };
  const coreSpec: Record<string, unknown> = { filters, limit: spec.limit ?? 50 };
  if (spec.cursor !== undefined) coreSpec.cursor = spec.cursor;
  if (spec.sortOrder !== undefined) coreSpec.sortOrder = spec.sortOrder;
  return core.compileAuditQuery(coreSpec as never, { maxLimit }) as { sql: string; where: string; params: unknown[]; limit: number };
}

/**
 * `purgeLogs` refused to delete sealed entries: only `better-audit purge` records where it cuts
 * a hash chain, so deleting them here would leave chains that `better-audit verify` reports as
 * broken.
 */
export class AuditSealedPurgeError extends Error {
  readonly code = "AUDIT_SEALED_PURGE";
  constructor(
    readonly sealedCount: number,
    before: string,
    tableName: string | undefined,
  ) {
    super(
      `purgeLogs: ${sealedCount} of the entries older than ${before}${tableName ? ` of table ${tableName}` : ""} are sealed into hash chains, and deleting them here would break the chains; ` +
        "purge sealed entries with `better-audit purge --yes --since <window>` (every table, as the table's owner, with the seal key), which records where each chain is cut",
    );
    this.name = "AuditSealedPurgeError";
  }
}

/** Every adapter method but `writeLog`, over `run`. */
export function sqlStore(run: RunSql): Omit<AuditDatabaseAdapter, "writeLog"> {
  return {
    async queryLogs(spec: AuditQuerySpec): Promise<AuditQueryResult> {
      const q = compileSpec(spec, Math.max(spec.limit ?? 50, 1));
      const rows = await run(q.sql, q.params).catch((err: unknown) => {
        throw new AuditQueryFailedError(err);
      });
      const page = rows.slice(0, q.limit);
      const result: AuditQueryResult = { entries: page.map(toLog) };
      const last = page.at(-1);
      if (rows.length > q.limit && last) result.nextCursor = core.encodeCursor(String(last.cursor_ts), String(last.id));
      return result;
    },
    async getLogById(id) {
      // A malformed id is simply not found (the reference answered with a database error).
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
      const [row] = await run(statements().byId, [id]);
      return row ? toLog(row) : null;
    },
    async purgeLogs({ before, tableName }) {
      if (tableName !== undefined && !tableName.trim()) throw new Error("purgeLogs: tableName must be a non-empty string when provided");
      const q = statements();
      const cutoff = before.toISOString();
      const params = [cutoff, tableName === undefined ? null : [tableName]];
      const sealable = (await run(q.columns, [])).some((r) => r.name === "seq");
      if (sealable) {
        // The one purge protocol (the core's `purge`), with one difference: `better-audit purge`
        // of every table records where it cuts each chain and then deletes sealed entries too,
        // but this runs as the application's role, which may not write checkpoints (`migrate`
        // keeps that to the owner), so sealed entries stop every purge here, not only one of
        // some tables.
        const [sealed] = await run(q.sealedInPurge, params);
        const n = Number(sealed?.n ?? 0);
        if (n > 0) throw new AuditSealedPurgeError(n, cutoff, tableName);
      }
      const [gone] = await run(sealable ? q.purgeUnsealed : q.purge, params);
      return { deletedCount: Number(gone?.n ?? 0) };
    },
    async getStats(options = {}) {
      const params = [options.since?.toISOString() ?? null, options.until?.toISOString() ?? null];
      const s = statements().stats;
      const q = (text: string) => run(text, params);
      const [[totals], days, actors, tables, ops, sev] = await Promise.all([q(s.totals), q(s.days), q(s.actors), q(s.tables), q(s.operations), q(s.severities)]);
      const stats: AuditStats = {
        totalLogs: Number(totals?.total ?? 0),
        tablesAudited: Number(totals?.tables ?? 0),
        eventsPerDay: days.map((r) => ({ date: String(r.date), count: Number(r.count) })),
        topActors: actors.map((r) => ({ actorId: String(r.actor_id), count: Number(r.count) })),
        topTables: tables.map((r) => ({ tableName: String(r.table_name), count: Number(r.count) })),
        operationBreakdown: Object.fromEntries(ops.map((r) => [String(r.operation), Number(r.count)])),
        severityBreakdown: Object.fromEntries(sev.map((r) => [String(r.severity), Number(r.count)])),
      };
      return stats;
    },
  };
}
