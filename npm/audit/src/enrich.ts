// Enrichment: registrations merged in Rust (by specificity), applied here to one entry.
import core from "@usebetter-rs/core";
import type { ErrorCode, MergedEnrichment } from "@usebetter-rs/core";
import type { AuditLog, EnrichmentConfig } from "./types";

export class AuditConfigError extends Error {
  /** `INVALID_CONFIG`, or a more precise code such as `AUDIT_SEAL_KEY`. */
  readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown; code?: ErrorCode | undefined }) {
    super(message, options);
    this.name = "AuditConfigError";
    this.code = options?.code ?? "INVALID_CONFIG";
  }
}

/** A registration as the console lists it (`GET /enrichments`): the config without its callback. */
export type EnrichmentSummary = { table: string; operation: string } & Omit<EnrichmentConfig, "description">;

export class Enrichments {
  private readonly registry: InstanceType<typeof core.EnrichmentRegistry>;
  private readonly descriptions: Array<EnrichmentConfig["description"]> = [];
  // Grouped by table and operation in first-registration order, as the reference lists them.
  private readonly summaries = new Map<string, EnrichmentSummary[]>();
  private readonly resolved = new Map<string, MergedEnrichment | null>();

  constructor(auditTables: readonly string[]) {
    this.registry = new core.EnrichmentRegistry([...auditTables]);
  }

  /** Validation (and its messages) is the Rust registry's; this only forwards. */
  register(table: string, operation: string, config: EnrichmentConfig): void {
    const data: Record<string, unknown> = { hasDescription: typeof config?.description === "function" };
    for (const k of ["label", "severity", "compliance", "notify", "redact", "include"] as const) {
      if (config?.[k] !== undefined) data[k] = config[k];
    }
    try {
      const index = this.registry.register(table, String(operation), data);
      this.descriptions[index] = config.description;
    } catch (err) {
      throw new AuditConfigError((err as Error).message, { cause: err });
    }
    this.resolved.clear();
    const op = String(operation).toUpperCase();
    const { hasDescription: _, ...shown } = data;
    const group = this.summaries.get(`${table}:${op}`) ?? [];
    group.push({ table, operation: op, ...shown });
    this.summaries.set(`${table}:${op}`, group);
  }

  /** Every registration, for the console. */
  list(): EnrichmentSummary[] {
    return [...this.summaries.values()].flat();
  }

  private resolve(table: string, op: string): MergedEnrichment | null {
    const key = `${table}:${op}`;
    if (!this.resolved.has(key)) this.resolved.set(key, this.registry.resolve(table, op));
    return this.resolved.get(key) ?? null;
  }

  /** Whether any registration applies to `(table, op)`. */
  applies(table: string, op: string): boolean {
    return this.resolve(table, op) !== null;
  }

  /** Applies redaction, description, label/severity/notify and compliance to `log`, in place. */
  apply(log: AuditLog): void {
    const merged = this.resolve(log.tableName, log.operation);
    if (!merged) return;
    if (merged.redact.length || merged.include.length) {
      const rule = merged.include.length ? { include: merged.include } : { redact: merged.redact };
      const entry: Record<string, unknown> = {};
      if (log.beforeData) entry.before = log.beforeData;
      if (log.afterData) entry.after = log.afterData;
      if (log.metadata) entry.metadata = log.metadata;
      if (log.diff) entry.diff = { changedFields: log.diff.changedFields, changes: log.diff.changes ?? [] };
      const [out] = core.redactEntries(rule, [entry]);
      if (out?.before) log.beforeData = out.before;
      if (out?.after) log.afterData = out.after;
      if (out?.metadata) log.metadata = out.metadata;
      if (out?.diff && log.diff) log.diff = { changedFields: out.diff.changedFields, changes: out.diff.changes };
      if (out?.redactedFields?.length) log.redactedFields = out.redactedFields;
    }
    const describe = merged.descriptionFrom === null ? undefined : this.descriptions[merged.descriptionFrom];
    if (describe && log.description === undefined) {
      try {
        const text = describe({
          before: log.beforeData && structuredClone(log.beforeData),
          after: log.afterData && structuredClone(log.afterData),
          diff: log.diff && structuredClone(log.diff),
          actorId: log.actorId,
          metadata: log.metadata,
        });
        if (typeof text === "string") log.description = text;
      } catch {
        // A failing description callback leaves the entry without one, as in the reference.
      }
    }
    if (merged.label !== null && log.label === undefined) log.label = merged.label;
    if (merged.severity !== null && log.severity === undefined) log.severity = merged.severity as AuditLog["severity"] & string;
    if (merged.notify !== null && log.notify === undefined) log.notify = merged.notify;
    if (merged.compliance.length) log.compliance = [...new Set([...(log.compliance ?? []), ...merged.compliance])];
  }
}

export const newId = (): string => globalThis.crypto.randomUUID();
