import { sql, type SQL } from "drizzle-orm";
import core from "@usebetter-rs/core";
import { currentWriteHandle } from "../write-context";
import { INLINE_TABLE } from "../inline";
import type { AuditDatabaseAdapter, AuditLog, AuditQuerySpec, AuditQueryResult, AuditStats, TimeFilter } from "../types";

type Row = Record<string, unknown>;
export interface DrizzlePgDatabase {
  execute(query: SQL): Promise<unknown>;
}

const OPERATIONS = ["INSERT", "UPDATE", "DELETE"];
const JSON_COLUMNS = new Set(["before_data", "after_data", "diff", "compliance", "metadata", "redacted_fields"]);
const COLUMN_OF: Record<string, string> = {
  id: "id", timestamp: "timestamp", tableName: "table_name", operation: "operation", recordId: "record_id",
  actorId: "actor_id", beforeData: "before_data", afterData: "after_data", diff: "diff", label: "label",
  description: "description", severity: "severity", compliance: "compliance", notify: "notify", reason: "reason",
  metadata: "metadata", redactedFields: "redacted_fields", tenantId: "tenant_id",
};
const KEY_OF = Object.fromEntries(Object.entries(COLUMN_OF).map(([k, c]) => [c, k]));

/** Rows from either driver: node-postgres returns `{ rows }`, postgres.js an array. */
const rowsOf = (r: unknown): Row[] => (Array.isArray(r) ? (r as Row[]) : ((r as { rows?: Row[] }).rows ?? []));

/** Turns compiled SQL text with `$n` placeholders into a drizzle `SQL` with bound values. */
function bind(text: string, params: unknown[]): SQL {
  const parts: SQL[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) {
    parts.push(sql.raw(text.slice(last, m.index)));
    // sql.param keeps an array one parameter (a bare array would expand into a tuple).
    parts.push(sql`${sql.param(params[Number(m[1]) - 1])}`);
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(sql.raw(text.slice(last)));
  return sql.join(parts);
}

function toLog(row: Row): AuditLog {
  const log: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const key = KEY_OF[column];
    if (!key || value === null || value === undefined) continue;
    log[key] = key === "timestamp" && !(value instanceof Date) ? new Date(String(value)) : JSON_COLUMNS.has(column) && typeof value === "string" ? JSON.parse(value) : value;
  }
  if (!OPERATIONS.includes(String(log.operation))) {
    throw new Error(`Invalid audit operation: ${JSON.stringify(log.operation)}. Expected one of: ${OPERATIONS.join(", ")}`);
  }
  return log as unknown as AuditLog;
}

const iso = (t: TimeFilter | undefined) => (t ? ("date" in t && t.date ? { date: t.date.toISOString() } : { duration: (t as { duration: string }).duration }) : undefined);

/** Values of one entry in column order, JSON columns as text. */
export function rowValues(log: AuditLog): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(COLUMN_OF)) {
    const v = (log as unknown as Record<string, unknown>)[key];
    if (v === undefined) continue;
    out[column] = v instanceof Date ? v.toISOString() : JSON_COLUMNS.has(column) ? JSON.stringify(v) : v;
  }
  return out;
}

/** A multi-row INSERT for a batch of entries (one round trip). */
export function insertSql(logs: AuditLog[], table = "audit_logs"): SQL {
  const columns = Object.values(COLUMN_OF);
  const tuples = logs.map((log) => {
    const values = rowValues(log);
    return sql`(${sql.join(columns.map((c) => (c in values ? sql`${values[c]}` : sql.raw("DEFAULT"))), sql`, `)})`;
  });
  return sql`INSERT INTO ${sql.identifier(table)} (${sql.join(columns.map((c) => sql.identifier(c)), sql`, `)}) VALUES ${sql.join(tuples, sql`, `)}`;
}

export function drizzleAuditAdapter(db: DrizzlePgDatabase): AuditDatabaseAdapter & { [INLINE_TABLE]: string } {
  const run = async (q: SQL) => rowsOf(await db.execute(q));
  return {
    // Rows go to this table, so withAuditProxy may write them in the capturing statement.
    [INLINE_TABLE]: "audit_logs",
    async writeLog(log) {
      // Inside an audited mutation: the mutation's own transaction (see withAuditProxy).
      await (currentWriteHandle() ?? db).execute(insertSql([log]));
    },
    async queryLogs(spec: AuditQuerySpec): Promise<AuditQueryResult> {
      const filters: Record<string, unknown> = { ...spec.filters, since: iso(spec.filters.since), until: iso(spec.filters.until) };
      const coreSpec: Record<string, unknown> = { filters, limit: spec.limit ?? 50 };
      if (spec.cursor !== undefined) coreSpec.cursor = spec.cursor;
      if (spec.sortOrder !== undefined) coreSpec.sortOrder = spec.sortOrder;
      const q = core.compileAuditQuery(coreSpec as never, { maxLimit: Math.max(spec.limit ?? 50, 1) });
      const rows = await run(bind(q.sql, q.params));
      const page = rows.slice(0, q.limit);
      const result: AuditQueryResult = { entries: page.map(toLog) };
      const last = page.at(-1);
      if (rows.length > q.limit && last) result.nextCursor = core.encodeCursor(String(last.cursor_ts), String(last.id));
      return result;
    },
    async getLogById(id) {
      const [row] = await run(sql`SELECT * FROM audit_logs WHERE id = ${id}::uuid LIMIT 1`);
      return row ? toLog(row) : null;
    },
    async purgeLogs({ before, tableName }) {
      if (tableName !== undefined && !tableName.trim()) throw new Error("purgeLogs: tableName must be a non-empty string when provided");
      const rows = await run(
        sql`WITH gone AS (DELETE FROM audit_logs WHERE "timestamp" < ${before.toISOString()}::timestamptz ${tableName ? sql`AND table_name = ${tableName}` : sql``} RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      );
      return { deletedCount: Number(rows[0]?.n ?? 0) };
    },
    async getStats(options = {}) {
      const where = sql.join(
        [
          sql`TRUE`,
          ...(options.since ? [sql`"timestamp" >= ${options.since.toISOString()}::timestamptz`] : []),
          ...(options.until ? [sql`"timestamp" < ${options.until.toISOString()}::timestamptz`] : []),
        ],
        sql` AND `,
      );
      const [[totals], days, actors, tables, ops, sev] = await Promise.all([
        run(sql`SELECT count(*)::int AS total, count(DISTINCT table_name)::int AS tables FROM audit_logs WHERE ${where}`),
        run(sql`SELECT to_char(date_trunc('day', "timestamp"), 'YYYY-MM-DD') AS date, count(*)::int AS count FROM audit_logs WHERE ${where} GROUP BY 1 ORDER BY 1 LIMIT 365`),
        run(sql`SELECT actor_id, count(*)::int AS count FROM audit_logs WHERE ${where} AND actor_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`),
        run(sql`SELECT table_name, count(*)::int AS count FROM audit_logs WHERE ${where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`),
        run(sql`SELECT operation, count(*)::int AS count FROM audit_logs WHERE ${where} GROUP BY 1`),
        run(sql`SELECT severity, count(*)::int AS count FROM audit_logs WHERE ${where} AND severity IS NOT NULL GROUP BY 1`),
      ]);
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
