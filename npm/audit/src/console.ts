// Endpoints registered with a usebetter console (`betterAudit({ console })`): the reference's
// routes, permissions, parameters, statuses and bodies. Where it answered bad input with a
// 500, these answer 400 naming the parameter; a purge that would cut sealed chains is a 409.
import { badRequest as bad, consoleHandler, isPlainObject as isObject } from "@usebetter-rs/core/console";
import type { ConsoleProductEndpoint, ConsoleRequest, ConsoleResponse } from "@usebetter-rs/core/console";
import type { AuditApi, ConsoleQueryFilters } from "./console-api";
import type { AuditLog } from "./types";

export type { ConsoleProductEndpoint, ConsoleRegistration, ConsoleRequest, ConsoleResponse } from "@usebetter-rs/core/console";

type Parsed = { filters: ConsoleQueryFilters } | { error: string };

const MAX_PARAM = 1000;
// The query parameters whose length is bounded (dates and the limit are parsed instead).
const BOUNDED = ["tableName", "recordId", "actorId", "cursor", "operation", "severity", "compliance", "search", "around", "direction", "order"];
// Errors that mean the request asked for something malformed, from the console or the core.
const INPUT_CODES = new Set(["AUDIT_INVALID_QUERY", "INVALID_CONFIG", "INVALID_CURSOR", "INVALID_DURATION"]);

const tooLong = (v: string | undefined) => v !== undefined && v.length > MAX_PARAM;
const serialize = (log: AuditLog) => ({ ...log, timestamp: log.timestamp.toISOString() });

/** As the reference: any number, floored, at least `min`, capped at `max`. */
function boundedInt(raw: string, min: number, max: number): number | undefined {
  const n = Number(raw);
  return Number.isFinite(n) && n >= min ? Math.min(Math.floor(n), max) : undefined;
}

function isoDate(raw: string): Date | undefined {
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Since and until (ISO dates, since before until), shared by /logs, /stats and /export. */
function parseRange(q: ConsoleRequest["query"], into: { since?: Date; until?: Date }): string | undefined {
  for (const key of ["since", "until"] as const) {
    const raw = q[key];
    if (raw === undefined) continue;
    const d = isoDate(raw);
    if (!d) return `Invalid '${key}': must be an ISO-8601 date`;
    into[key] = d;
  }
  if (into.since && into.until && into.since >= into.until) return "'since' must be before 'until'";
  return undefined;
}

function parseFilters(q: ConsoleRequest["query"]): Parsed {
  const filters: ConsoleQueryFilters = {};
  if (q.limit !== undefined) {
    const limit = boundedInt(q.limit, 1, 1000);
    if (limit === undefined) return { error: "Invalid 'limit': must be a positive integer (max 1000)" };
    filters.limit = limit;
  }
  if (q.recordId !== undefined && q.tableName === undefined) return { error: "'recordId' requires 'tableName'" };
  for (const key of ["tableName", "recordId", "operation", "actorId", "severity", "compliance", "search", "cursor"] as const) {
    const v = q[key];
    if (v !== undefined) filters[key] = v;
  }
  if (q.direction !== undefined) {
    if (q.direction !== "after" && q.direction !== "before") return { error: "Invalid 'direction': must be 'after' or 'before'" };
    filters.direction = q.direction;
  }
  if (q.order !== undefined) {
    if (q.order !== "asc" && q.order !== "desc") return { error: "Invalid 'order': must be 'asc' or 'desc'" };
    filters.order = q.order;
  }
  const error = parseRange(q, filters);
  return error ? { error } : { filters };
}

/** Input errors are 400s and a purge that would cut sealed chains a 409; anything else a 500. */
function answer(err: unknown): ConsoleResponse | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && INPUT_CODES.has(code)) return bad((err as Error).message);
  if (code === "AUDIT_SEALED_PURGE") return { status: 409, body: { error: (err as Error).message, code } };
  return undefined;
}
const safe = (handler: (r: ConsoleRequest) => Promise<ConsoleResponse>) => consoleHandler(handler, answer);

export function createAuditConsoleEndpoints(api: AuditApi): ConsoleProductEndpoint[] {
  return [
    {
      method: "GET",
      path: "/logs",
      requiredPermission: "read",
      handler: safe(async ({ query }) => {
        if (BOUNDED.some((k) => tooLong(query[k]))) return bad("Query parameter exceeds maximum length");
        const parsed = parseFilters(query);
        if ("error" in parsed) return bad(parsed.error);
        const f = parsed.filters;
        if (f.order !== undefined && f.direction !== undefined) return bad("'order' cannot be combined with 'direction'");
        const around = query.around;
        if (around !== undefined && (f.cursor !== undefined || f.direction !== undefined || f.order !== undefined)) {
          return bad("'around' cannot be combined with 'cursor', 'direction', or 'order'");
        }
        const result = around !== undefined ? await api.queryLogsAround(around, f) : await api.queryLogs(f);
        const body: Record<string, unknown> = { entries: result.entries.map(serialize), hasNextPage: result.hasNextPage };
        if (result.nextCursor !== undefined) body.nextCursor = result.nextCursor;
        if (result.prevCursor !== undefined) body.prevCursor = result.prevCursor;
        if (result.hasPrevPage) body.hasPrevPage = true;
        return { status: 200, body };
      }),
    },
    {
      method: "GET",
      path: "/logs/:id",
      requiredPermission: "read",
      handler: safe(async ({ params }) => {
        const id = params.id?.trim();
        if (!id) return bad("Missing log id");
        const log = await api.getLog(id);
        return log ? { status: 200, body: serialize(log) } : { status: 404, body: { error: "Audit log not found" } };
      }),
    },
    {
      method: "GET",
      path: "/stats",
      requiredPermission: "read",
      handler: safe(async ({ query }) => {
        if (tooLong(query.since) || tooLong(query.until)) return bad("Query parameter exceeds maximum length");
        const options: { since?: Date; until?: Date } = {};
        const error = parseRange(query, options);
        return error ? bad(error) : { status: 200, body: await api.getStats(options) };
      }),
    },
    {
      method: "GET",
      path: "/enrichments",
      requiredPermission: "read",
      handler: safe(async () => ({ status: 200, body: api.getEnrichments() })),
    },
    {
      method: "GET",
      path: "/export",
      requiredPermission: "read",
      handler: safe(async ({ query }) => {
        const format = query.format;
        if (format !== undefined && format !== "csv" && format !== "json") return bad("Invalid format. Must be 'csv' or 'json'");
        if (BOUNDED.some((k) => tooLong(query[k]))) return bad("Query parameter exceeds maximum length");
        const parsed = parseFilters(query);
        if ("error" in parsed) return bad(parsed.error);
        const csv = (format ?? "csv") === "csv";
        const data = await api.exportLogs(parsed.filters, csv ? "csv" : "json");
        const filename = `audit-export-${new Date().toISOString().slice(0, 10)}.${csv ? "csv" : "json"}`;
        return {
          status: 200,
          body: data,
          headers: {
            "content-type": csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
            "content-disposition": `attachment; filename="${filename}"`,
            "cache-control": "no-cache",
          },
        };
      }),
    },
    {
      method: "DELETE",
      path: "/logs",
      requiredPermission: "admin",
      handler: safe(async ({ body }) => {
        if (!isObject(body)) return bad("Request body is required");
        if (typeof body.before !== "string") return bad("Missing required field: before");
        const before = isoDate(body.before);
        if (!before) return bad("Invalid date for 'before' field");
        const options: { before: Date; tableName?: string } = { before };
        const table = body.tableName;
        // Absent, null or "": every table, as in the reference, which also purged every table
        // for a tableName of any other type; that is refused here.
        if (table !== undefined && table !== null && table !== "") {
          if (typeof table !== "string" || !table.trim()) return bad("Invalid 'tableName': must be a non-empty string");
          if (table.length > MAX_PARAM) return bad("tableName exceeds maximum length");
          options.tableName = table;
        }
        return { status: 200, body: await api.purgeLogs(options) };
      }),
    },
  ];
}
