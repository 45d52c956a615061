import { coded } from "./errors";
import { changedFields, copyImage } from "./diff";
import { currentTenantId, getAuditContext, runWithAuditContext, type AuditContext } from "./context";
import { AuditConfigError, Enrichments, newId } from "./enrich";
import { exportLogs, createExportResponse, type ExportOptions, type ExportResponseOptions, type ExportResult } from "./export";
import { AuditQueryBuilder } from "./query";
import { INLINE_CAPTURE, INLINE_SHAPE, type InlinePlan, type InlinePlanner } from "./inline";
import { createAuditApi } from "./console-api";
import { createAuditConsoleEndpoints, type ConsoleRegistration } from "./console";
import { CAPTURE_IN, type CaptureIn } from "./capture-in";
import { WRITE_ON, type WriteOn } from "./writer";
import type {
  AfterLogHook,
  FieldChange,
  AuditDatabaseAdapter,
  AuditLog,
  AuditOperation,
  BeforeLogHook,
  CaptureLogInput,
  EnrichmentConfig,
  RetentionPolicy,
} from "./types";

export interface BetterAuditConfig {
  database: AuditDatabaseAdapter;
  auditTables: string[];
  asyncWrite?: boolean;
  beforeLog?: BeforeLogHook[];
  afterLog?: AfterLogHook[];
  maxQueryLimit?: number;
  onError?: (error: unknown) => void;
  /** A usebetter console: the audit endpoints are registered with it at construction. */
  console?: ConsoleRegistration;
  retention?: RetentionPolicy;
}

export interface BetterAuditInstance {
  captureLog(input: CaptureLogInput): Promise<void>;
  query(): AuditQueryBuilder;
  export(options: ExportOptions): Promise<ExportResult>;
  exportResponse(options?: ExportResponseOptions): Response;
  withContext<T>(context: AuditContext, fn: () => Promise<T>): Promise<T>;
  enrich(table: string, operation: AuditOperation | "*", config: EnrichmentConfig): void;
  onBeforeLog(hook: BeforeLogHook): () => void;
  onAfterLog(hook: AfterLogHook): () => void;
  retentionPolicy(): RetentionPolicy | undefined;
}

const OPERATIONS = new Set(["INSERT", "UPDATE", "DELETE"]);
const CONFIG_KEYS = new Set(["database", "auditTables", "asyncWrite", "beforeLog", "afterLog", "maxQueryLimit", "onError", "console", "retention"]);

function checkRetention(r: RetentionPolicy, tables: readonly string[]): void {
  if (!Number.isInteger(r.days) || r.days <= 0) throw new AuditConfigError(`retention: 'days' must be a positive integer, got ${r.days}`);
  if (r.tables !== undefined) {
    if (!Array.isArray(r.tables) || !r.tables.length || r.tables.some((t) => typeof t !== "string" || !t)) {
      throw new AuditConfigError("retention: 'tables' must be a non-empty array of non-empty strings");
    }
    const unknown = r.tables.filter((t) => !tables.includes(t));
    if (unknown.length) {
      throw new AuditConfigError(`retention: 'tables' contains table(s) not in auditTables: ${unknown.join(", ")}. Registered tables: ${tables.join(", ")}`);
    }
  }
}

/** Builds the entry from the input, the audit context and the tenant scope (or `tenantId`, when given). */
function buildLog(input: CaptureLogInput, tenantId: string | null | undefined = currentTenantId()): AuditLog {
  const ctx = getAuditContext();
  const log: AuditLog = { id: newId(), timestamp: new Date(), tableName: input.tableName, operation: input.operation, recordId: input.recordId };
  for (const k of ["actorId", "label", "reason", "compliance", "metadata"] as const) {
    const v = input[k] ?? ctx?.[k];
    if (v !== undefined) (log as unknown as Record<string, unknown>)[k] = v;
  }
  for (const k of ["description", "severity", "notify"] as const) {
    if (input[k] !== undefined) (log as unknown as Record<string, unknown>)[k] = input[k];
  }
  if (tenantId) log.tenantId = tenantId;
  const before = input.operation !== "INSERT" ? input.before : undefined;
  const after = input.operation !== "DELETE" ? input.after : undefined;
  const keysB = before ? Object.keys(before) : [];
  const keysA = after ? Object.keys(after) : [];
  if (before) log.beforeData = copyImage(before, keysB);
  if (after) log.afterData = copyImage(after, keysA);
  if (input.operation === "UPDATE") {
    // The changed fields as the core decides them (diff.ts); old and new values are the images' own.
    const changed = changedFields(before ?? {}, after ?? {}, keysB, keysA);
    if (changed.length) {
      const changes = changed.map((field) => {
        const c: FieldChange = { field };
        if (before && Object.hasOwn(before, field)) c.old = before[field];
        if (after && Object.hasOwn(after, field)) c.new = after[field];
        return c;
      });
      log.diff = { changedFields: changed, changes };
    }
  }
  return log;
}

/** Adds `hook` to `list`; the returned function removes it again. */
function subscribe<H>(list: H[], hook: H): () => void {
  list.push(hook);
  return () => {
    const i = list.indexOf(hook);
    if (i >= 0) list.splice(i, 1);
  };
}

export function betterAudit(config: BetterAuditConfig): BetterAuditInstance {
  if (!config || typeof config !== "object") throw new AuditConfigError("audit: betterAudit(config) needs a config object");
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) throw new AuditConfigError(`audit: unknown config key \`${key}\`: expected one of ${[...CONFIG_KEYS].join(", ")}`);
  }
  if (!config.database || typeof config.database.writeLog !== "function") {
    throw new AuditConfigError("audit: `database` must be an adapter with writeLog(), e.g. drizzleAuditAdapter(db)");
  }
  if (!Array.isArray(config.auditTables) || config.auditTables.some((t) => typeof t !== "string" || !t)) {
    throw new AuditConfigError("audit: `auditTables` must be an array of table names");
  }
  const tables = [...config.auditTables];
  const auditTables = new Set(tables);
  if (config.retention !== undefined) checkRetention(config.retention, tables);
  if (config.asyncWrite === true && !config.onError) {
    console.warn("audit: asyncWrite is enabled without onError — write failures will only log to console.error. Pass onError to handle them.");
  }
  const maxLimit = config.maxQueryLimit ?? 1000;
  // The limit crosses into Rust as a u32.
  if (!Number.isInteger(maxLimit) || maxLimit < 1 || maxLimit > 0xffff_ffff) {
    throw new AuditConfigError(`audit: \`maxQueryLimit\` must be a positive integer, got ${String(config.maxQueryLimit)}`);
  }
  const consoleRegistration = config.console ?? undefined;
  if (consoleRegistration !== undefined && typeof consoleRegistration.registerProduct !== "function") {
    throw new AuditConfigError("audit: `console.registerProduct` must be a function: pass the console instance (betterConsole(...))");
  }
  const beforeLog = [...(config.beforeLog ?? [])];
  const afterLog = [...(config.afterLog ?? [])];
  const enrichments = new Enrichments(tables);
  const db = config.database;

  async function write(log: AuditLog): Promise<void> {
    await db.writeLog(log);
    for (const hook of afterLog) await hook(log);
  }

  async function captureLog(input: CaptureLogInput): Promise<void> {
    if (!input || !auditTables.has(input.tableName)) return;
    if (input.recordId === "") throw coded(new Error("captureLog requires a non-empty recordId"), "AUDIT_INVALID_DATA");
    if (!OPERATIONS.has(input.operation)) {
      throw new AuditConfigError(`captureLog: \`operation\` must be INSERT, UPDATE or DELETE, got ${JSON.stringify(input.operation)}`);
    }
    const log = buildLog(input);
    enrichments.apply(log);
    for (const hook of beforeLog) await hook(log);
    if (!(input.asyncWrite ?? config.asyncWrite ?? false)) return write(log);
    write(log).catch((err: unknown) => {
      if (config.onError) config.onError(err);
      else console.error(`audit: async write failed for ${log.tableName}/${log.recordId} — ${(err as Error)?.message ?? err}`);
    });
  }

  // Which audited writes withAuditProxy may record inside the mutating statement.
  const inlineShape = (db as unknown as { [INLINE_SHAPE]?: Extract<InlinePlan, { kind: "inline" }>["shape"] })[INLINE_SHAPE];
  const planner: InlinePlanner = (tableName, operation) => {
    if (!auditTables.has(tableName)) return { kind: "skip" };
    if (!inlineShape || beforeLog.length || afterLog.length || config.asyncWrite || enrichments.applies(tableName, operation)) {
      return { kind: "pipeline" };
    }
    const ctx = getAuditContext();
    return {
      kind: "inline",
      shape: inlineShape,
      values: {
        actor_id: ctx?.actorId ?? null,
        label: ctx?.label ?? null,
        reason: ctx?.reason ?? null,
        compliance: ctx?.compliance ? JSON.stringify(ctx.compliance) : null,
        metadata: ctx?.metadata ? JSON.stringify(ctx.metadata) : null,
        tenant_id: currentTenantId() ?? null,
      },
    };
  };
  Object.defineProperty(captureLog, INLINE_CAPTURE, { value: Object.assign(planner, { tables }) });

  const executor = () => {
    const run = db.queryLogs?.bind(db);
    if (!run) throw coded(new Error("audit.query() requires a database adapter that implements queryLogs(). Use drizzleAuditAdapter or prismaAuditAdapter."), "AUDIT_ADAPTER_UNSUPPORTED");
    return run;
  };

  consoleRegistration?.registerProduct({
    id: "audit",
    name: "Better Audit",
    endpoints: createAuditConsoleEndpoints(createAuditApi(db, enrichments, maxLimit)),
  });

  // Entries another library writes in its own transaction (see capture-in.ts): every input is
  // written, at once (never asynchronously), through the same enrichment and hooks.
  const captureIn: CaptureIn = async (run, inputs) => {
    const writeOn = (db as { [WRITE_ON]?: WriteOn })[WRITE_ON];
    if (typeof writeOn !== "function") {
      throw coded(new Error("audit: writing entries in another library's transaction needs drizzleAuditAdapter or prismaAuditAdapter"), "AUDIT_ADAPTER_UNSUPPORTED");
    }
    if (!Array.isArray(inputs)) throw coded(new TypeError("captureLogsIn: `inputs` must be an array of entries"), "INVALID_ARGUMENT");
    const logs: AuditLog[] = [];
    for (const input of inputs) {
      if (!input?.tableName || !input.recordId) throw coded(new Error("captureLogsIn requires a tableName and a non-empty recordId"), "AUDIT_INVALID_DATA");
      if (!OPERATIONS.has(input.operation)) throw new AuditConfigError(`captureLogsIn: \`operation\` must be INSERT, UPDATE or DELETE, got ${JSON.stringify(input.operation)}`);
      const log = buildLog(input, input.tenantId);
      enrichments.apply(log);
      for (const hook of beforeLog) await hook(log);
      logs.push(log);
    }
    await writeOn(run, logs);
    for (const log of logs) for (const hook of afterLog) await hook(log);
  };

  const instance: BetterAuditInstance = {
    captureLog,
    query: () => new AuditQueryBuilder(executor(), {}, undefined, undefined, maxLimit),
    export: (options) => exportLogs(executor(), options, maxLimit),
    exportResponse: (options) => createExportResponse(executor(), options),
    withContext: (context, fn) => runWithAuditContext(context, fn),
    enrich: (table, operation, cfg) => enrichments.register(table, operation, cfg),
    onBeforeLog: (hook) => subscribe(beforeLog, hook),
    onAfterLog: (hook) => subscribe(afterLog, hook),
    retentionPolicy: () => (config.retention ? { ...config.retention, ...(config.retention.tables ? { tables: [...config.retention.tables] } : {}) } : undefined),
  };
  // Keyed by a symbol, so the instance keeps exactly the reference's keys.
  Object.defineProperty(instance, CAPTURE_IN, { value: captureIn });
  return instance;
}
