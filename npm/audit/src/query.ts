import { coded } from "./errors";
import core from "@usebetter-rs/core";
import type { AuditOperation, AuditQueryFilters, AuditQueryResult, AuditQuerySpec, AuditSeverity, QueryExecutor, TimeFilter } from "./types";

const MAX_SEARCH = 500;

function time(value: Date | string): TimeFilter {
  if (value instanceof Date) return { date: value };
  core.parseDuration(value); // validates eagerly, as the reference does
  return { duration: value };
}

const add = <T>(list: T[] | undefined, more: T[]): T[] => [...new Set([...(list ?? []), ...more])];

/** A query the builder refuses before it reaches the database; `field` names the method. */
export class AuditQueryError extends Error {
  readonly code = "AUDIT_INVALID_QUERY";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "AuditQueryError";
  }
}

/**
 * The database refused an audit query. The message and `cause` carry the database's own
 * error, never the statement text (drizzle's wrapper puts the whole SQL in its message).
 */
export class AuditQueryFailedError extends Error {
  readonly code = "AUDIT_QUERY_FAILED";
  readonly sqlState: string | undefined;
  constructor(err: unknown) {
    let db: unknown = err;
    for (let e: unknown = err; e instanceof Error; e = e.cause) if (typeof (e as { code?: unknown }).code === "string") db = e;
    const own = db instanceof Error && !/^Failed query:/.test(db.message) ? db : undefined;
    super(`audit query failed: ${own?.message ?? "the database refused it"}`, own ? { cause: own } : undefined);
    this.name = "AuditQueryFailedError";
    this.sqlState = (own as { code?: string } | undefined)?.code;
  }
}

/** PostgreSQL text cannot hold NUL; the database would answer with an error instead. */
function plain(field: string, values: string[]): string[] {
  for (const v of values) {
    if (typeof v !== "string") throw new AuditQueryError(field, `${field}() takes strings, got ${typeof v}`);
    if (v.includes("\u0000")) throw new AuditQueryError(field, `${field}() text cannot contain NUL characters (\\u0000)`);
  }
  return values;
}

/** Immutable builder: every call returns a new builder. */
export const EXPLICIT_LIMIT = Symbol("usebetterdev.audit.explicitLimit");

export class AuditQueryBuilder {
  constructor(
    private readonly executor: QueryExecutor,
    private readonly filters: AuditQueryFilters = {},
    private readonly limitValue?: number,
    private readonly cursor?: string,
    private readonly maxLimit = 1000,
    private readonly sortOrder?: "asc" | "desc",
  ) {}

  private with(filters: Partial<AuditQueryFilters>, extra: { limit?: number; cursor?: string; sortOrder?: "asc" | "desc" } = {}): AuditQueryBuilder {
    return new AuditQueryBuilder(
      this.executor,
      { ...this.filters, ...filters },
      "limit" in extra ? extra.limit : this.limitValue,
      "cursor" in extra ? extra.cursor : this.cursor,
      this.maxLimit,
      "sortOrder" in extra ? extra.sortOrder : this.sortOrder,
    );
  }

  resource(tableName: string, recordId?: string): AuditQueryBuilder {
    plain("resource", recordId === undefined ? [tableName] : [tableName, recordId]);
    return this.with({ resource: recordId === undefined ? { tableName } : { tableName, recordId } });
  }
  actor(...ids: string[]): AuditQueryBuilder {
    return this.with({ actorIds: add(this.filters.actorIds, plain("actor", ids)) });
  }
  severity(...levels: AuditSeverity[]): AuditQueryBuilder {
    return this.with({ severities: add(this.filters.severities, levels) });
  }
  compliance(...tags: string[]): AuditQueryBuilder {
    return this.with({ compliance: add(this.filters.compliance, plain("compliance", tags)) });
  }
  operation(...ops: AuditOperation[]): AuditQueryBuilder {
    return this.with({ operations: add(this.filters.operations, ops) });
  }
  since(value: Date | string): AuditQueryBuilder {
    return this.with({ since: time(value) });
  }
  until(value: Date | string): AuditQueryBuilder {
    return this.with({ until: time(value) });
  }
  search(text: string): AuditQueryBuilder {
    plain("search", [text]);
    if (text.length > MAX_SEARCH) throw new AuditQueryError("search", `searchText must be at most ${MAX_SEARCH} characters, got ${text.length}`);
    if (!text) return this;
    return this.with({ searchText: text });
  }
  limit(n: number): AuditQueryBuilder {
    if (!(n > 0)) throw coded(new Error(`limit must be greater than 0, got ${n}`), "AUDIT_INVALID_QUERY");
    if (n > this.maxLimit) throw coded(new Error(`limit ${n} exceeds maximum allowed limit of ${this.maxLimit}`), "AUDIT_INVALID_QUERY");
    return this.with({}, { limit: n });
  }
  after(cursor: string): AuditQueryBuilder {
    return this.with({}, { cursor });
  }
  order(direction: "asc" | "desc"): AuditQueryBuilder {
    return this.with({}, { sortOrder: direction });
  }

  /** The limit the caller set with `.limit()`, if any: an export stops there. */
  [EXPLICIT_LIMIT](): number | undefined {
    return this.limitValue;
  }

  toSpec(): AuditQuerySpec {
    const f = this.filters;
    const filters: AuditQueryFilters = { ...f };
    for (const k of ["actorIds", "severities", "compliance", "operations"] as const) {
      if (f[k]) (filters as Record<string, unknown>)[k] = [...(f[k] as unknown[])];
    }
    const spec: AuditQuerySpec = { filters, limit: this.limitValue ?? this.maxLimit };
    if (this.cursor !== undefined) spec.cursor = this.cursor;
    if (this.sortOrder !== undefined) spec.sortOrder = this.sortOrder;
    return spec;
  }

  list(): Promise<AuditQueryResult> {
    return this.executor(this.toSpec());
  }
}
