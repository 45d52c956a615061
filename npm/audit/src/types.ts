export type AuditOperation = "INSERT" | "UPDATE" | "DELETE";
export type AuditSeverity = "low" | "medium" | "high" | "critical";

export interface FieldChange {
  field: string;
  old?: unknown;
  new?: unknown;
}

/** `changedFields` as the reference; `changes` adds old and new values per field. */
export interface AuditDiff {
  changedFields: string[];
  changes?: FieldChange[];
}

export interface AuditLog {
  id: string;
  timestamp: Date;
  tableName: string;
  operation: AuditOperation;
  recordId: string;
  beforeData?: Record<string, unknown>;
  afterData?: Record<string, unknown>;
  diff?: AuditDiff;
  actorId?: string;
  label?: string;
  description?: string;
  severity?: AuditSeverity;
  compliance?: string[];
  notify?: boolean;
  reason?: string;
  metadata?: Record<string, unknown>;
  redactedFields?: string[];
  /** The tenant the entry belongs to, when written inside a tenant scope. */
  tenantId?: string;
}

export interface CaptureLogInput {
  tableName: string;
  operation: AuditOperation;
  recordId: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  actorId?: string;
  label?: string;
  description?: string;
  severity?: AuditSeverity;
  compliance?: string[];
  notify?: boolean;
  reason?: string;
  metadata?: Record<string, unknown>;
  asyncWrite?: boolean;
}

export interface ResourceFilter {
  tableName: string;
  recordId?: string;
}
export type TimeFilter = { date: Date; duration?: never } | { duration: string; date?: never };
export interface AuditQueryFilters {
  resource?: ResourceFilter;
  actorIds?: string[];
  severities?: AuditSeverity[];
  compliance?: string[];
  since?: TimeFilter;
  until?: TimeFilter;
  searchText?: string;
  operations?: AuditOperation[];
}
export interface AuditQuerySpec {
  filters: AuditQueryFilters;
  limit?: number;
  cursor?: string;
  sortOrder?: "asc" | "desc";
}
export interface AuditQueryResult {
  entries: AuditLog[];
  nextCursor?: string;
  prevCursor?: string;
}
export type QueryExecutor = (spec: AuditQuerySpec) => Promise<AuditQueryResult>;

export interface AuditStats {
  totalLogs: number;
  tablesAudited: number;
  eventsPerDay: Array<{ date: string; count: number }>;
  topActors: Array<{ actorId: string; count: number }>;
  topTables: Array<{ tableName: string; count: number }>;
  operationBreakdown: Record<string, number>;
  severityBreakdown: Record<string, number>;
}

export interface AuditDatabaseAdapter {
  writeLog(log: AuditLog): Promise<void>;
  queryLogs?(spec: AuditQuerySpec): Promise<AuditQueryResult>;
  getLogById?(id: string): Promise<AuditLog | null>;
  getStats?(options?: { since?: Date; until?: Date }): Promise<AuditStats>;
  purgeLogs?(options: { before: Date; tableName?: string }): Promise<{ deletedCount: number }>;
}

export type BeforeLogHook = (log: AuditLog) => void | Promise<void>;
export type AfterLogHook = (log: Readonly<AuditLog>) => void | Promise<void>;

export interface EnrichmentDescriptionContext {
  before: Record<string, unknown> | undefined;
  after: Record<string, unknown> | undefined;
  diff: AuditDiff | undefined;
  actorId: string | undefined;
  metadata: Record<string, unknown> | undefined;
}

export interface EnrichmentConfig {
  label?: string;
  description?: (ctx: EnrichmentDescriptionContext) => string;
  severity?: AuditSeverity;
  compliance?: string[];
  notify?: boolean;
  /** Paths to remove (dotted for nested JSON; `metadata.x` for metadata). */
  redact?: string[];
  /** Paths to keep; everything else is removed. */
  include?: string[];
}

export interface RetentionPolicy {
  days: number;
  tables?: string[];
}
