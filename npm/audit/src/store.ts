// The storage half of an adapter, in plain SQL text with `$n` parameters, so the Drizzle and
// the Prisma adapters run the same statements and read rows the same way; each supplies only
// how to run a statement.
import { coded } from "./errors";
import core from "@usebetter-rs/core";
import type { AuditContract, StoreSql } from "@usebetter-rs/core";
import { jsonText } from "./json";
import { AuditQueryFailedError } from "./query";
import type { AuditDatabaseAdapter, AuditLog, AuditQueryResult, AuditQuerySpec, AuditStats, TimeFilter } from "./types";

export type Row = Record<string, unknown>;
export type RunSql = (text: string, params: unknown[]) => Promise<Row[]>;

const OPERATIONS = ["INSERT", "UPDATE", "DELETE"];

let shared: AuditContract | undefined;
/** The core's names for the table, its columns and trigger capture, read on first use. */
export const contract = (): AuditContract => (shared ??= core.auditContract());

interface Columns {
  /** Entry column and property, in table order. */
  entry: { column: string; key: string }[];
  names: readonly string[];
  keyOf: Record<string, string>;
  json: ReadonlySet<string>;
}
let known: Columns | undefined;
function columns(): Columns {
  if (known) return known;
  const all = contract().columns;
  const entry = all.map((c) => ({ column: c.name, key: c.key }));
  return (known = {
    entry,
    names: entry.map((c) => c.column),
    keyOf: Object.fromEntries(entry.map((c) => [c.column, c.key])),
    json: new Set(all.filter((c) => c.type === "jsonb").map((c) => c.name)),
  });
}
/** The entry columns, in table order; sealing adds the seal columns. */
export const entryColumns = (): readonly string[] => columns().names;
/** A sealed entry's place in its chain. */
export const sealColumns = (): readonly string[] => contract().sealColumns;

/**
 * Where a read entry stands, exactly: its timestamp as the database's microsecond text, kept
 * out of sight (not enumerable) because drivers hand `timestamp` over as a millisecond Date.
 */
export const EXACT_TIMESTAMP = Symbol("usebetter.audit.exactTimestamp");

/** A stored row as an entry: camelCase keys, absent instead of null, JSON parsed once. */
export function toLog(row: Row): AuditLog {
  const log: Record<string, unknown> = {};
  const { keyOf, json } = columns();
  for (const [column, value] of Object.entries(row)) {
    const key = keyOf[column];
    if (!key || value === null || value === undefined) continue;
    log[key] = key === "timestamp" && !(value instanceof Date) ? new Date(String(value)) : json.has(column) && typeof value === "string" ? JSON.parse(value) : value;
  }
  if (!OPERATIONS.includes(String(log.operation))) {
    throw coded(new Error(`Invalid audit operation: ${JSON.stringify(log.operation)}. Expected one of: ${OPERATIONS.join(", ")}`), "AUDIT_INVALID_DATA");
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
  const { entry, json } = columns();
  for (const { column, key } of entry) {
    const v = (log as unknown as Record<string, unknown>)[key];
    if (v !== undefined) out.set(column, v instanceof Date ? v.toISOString() : json.has(column) ? jsonText(v, key) : v);
  }
  return out;
}

/** The entry as PostgreSQL will return it: column names, JSON columns as values. */
export function storedRow(values: Map<string, unknown>): Record<string, unknown> {
  const { json } = columns();
  return Object.fromEntries([...values].map(([c, v]) => [c, json.has(c) ? JSON.parse(v as string) : v]));
}

// The core's INSERT per combination of columns, rows and seals: a handful per table shape.
const inserts = new Map<string, string>();

/**
 * One multi-row INSERT for a batch of entries; absent keys take the column default. `values`
 * are the entries' columnValues when the caller has them already; `present`, the columns the
 * table has (an older table lacks some), limits the statement to those.
 */
export function insertStatement(logs: AuditLog[], seals?: RowSeal[], values = logs.map(columnValues), present?: ReadonlySet<string>): { text: string; params: unknown[] } {
  const all = entryColumns();
  const entry = present ? all.filter((c) => present.has(c)) : all;
  const rows = values.map((row) => entry.filter((c) => row.has(c)));
  const shape = `${seals ? "s" : ""}|${entry.join(",")}|${rows.map((r) => r.join(",")).join("|")}`;
  let text = inserts.get(shape);
  if (text === undefined) {
    text = core.auditInsertSql([...entry], rows, seals !== undefined);
    if (inserts.size >= 256) inserts.clear();
    inserts.set(shape, text);
  }
  const params: unknown[] = [];
  values.forEach((row, i) => {
    for (const c of rows[i]!) params.push(row.get(c));
    const seal = seals?.[i];
    if (seal) params.push(seal.seq, seal.prevHash, seal.hash);
  });
  return { text, params };
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

let storeSql: StoreSql | undefined;
/** The core's statements over the entries' table. */
export const statements = () => (storeSql ??= core.auditStoreSql(contract().ref));

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
      if (tableName !== undefined && !tableName.trim()) throw coded(new Error("purgeLogs: tableName must be a non-empty string when provided"), "INVALID_ARGUMENT");
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
