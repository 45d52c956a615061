// The contract between betterAudit and withAuditProxy for writing the audit row inside the
// capturing statement itself (one round trip): betterAudit says, per table and operation,
// whether its pipeline would change anything SQL cannot do (enrichment, hooks, async writes,
// a store other than the core's entries table) and, if not, which context values to store.
import type { TableShape } from "./shape";
import type { RunSql } from "./store";
import type { AuditOperation } from "./types";

export const INLINE_CAPTURE = Symbol.for("usebetterdev.audit.inlineCapture");
/**
 * Set by an adapter that writes unsealed entries to the core's entries table: its reader of the
 * table's columns (a table made for the reference lacks tenant_id).
 */
export const INLINE_SHAPE = Symbol.for("usebetterdev.audit.inlineShape");

export type InlinePlan =
  | { kind: "skip" }
  | { kind: "pipeline" }
  | {
      kind: "inline";
      shape: (run: RunSql) => Promise<TableShape>;
      values: { actor_id: string | null; label: string | null; reason: string | null; compliance: string | null; metadata: string | null; tenant_id: string | null };
    };

/** `tables`: every audited table, for statements that could write any of them. */
export type InlinePlanner = ((tableName: string, operation: AuditOperation) => InlinePlan) & { tables?: readonly string[] };
