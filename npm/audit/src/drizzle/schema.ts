import { sql } from "drizzle-orm";
import { bigint, boolean, index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * The reference's 17 columns and index names, plus `tenant_id` (filled from the tenant scope),
 * the nullable seal columns `seq`, `prev_hash` and `hash` and the chain index, so
 * reference-shaped tables keep working. The table `better-audit migrate` creates, declared here
 * without loading the core (drizzle-kit imports this file); `js-tests/audit-schema.test.mjs`
 * holds the two equal.
 */
export const auditLogs = pgTable(
  "audit_logs",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`).notNull(),
    timestamp: timestamp("timestamp", { withTimezone: true }).defaultNow().notNull(),
    tableName: text("table_name").notNull(),
    operation: text("operation").notNull(),
    recordId: text("record_id").notNull(),
    actorId: text("actor_id"),
    beforeData: jsonb("before_data"),
    afterData: jsonb("after_data"),
    diff: jsonb("diff"),
    label: text("label"),
    description: text("description"),
    severity: text("severity"),
    compliance: jsonb("compliance"),
    notify: boolean("notify"),
    reason: text("reason"),
    metadata: jsonb("metadata"),
    redactedFields: jsonb("redacted_fields"),
    tenantId: uuid("tenant_id"),
    seq: bigint("seq", { mode: "bigint" }),
    prevHash: text("prev_hash"),
    hash: text("hash"),
  },
  (t) => [
    index("audit_logs_table_name_timestamp_idx").on(t.tableName, t.timestamp),
    index("audit_logs_actor_id_idx").on(t.actorId),
    index("audit_logs_record_id_idx").on(t.recordId),
    index("audit_logs_table_name_record_id_idx").on(t.tableName, t.recordId),
    index("audit_logs_operation_idx").on(t.operation),
    index("audit_logs_timestamp_idx").on(t.timestamp),
    index("audit_logs_timestamp_id_idx").on(t.timestamp, t.id),
    index("audit_logs_chain_seq_idx").on(t.tenantId, t.seq),
  ],
);

export type AuditLogRow = typeof auditLogs.$inferSelect;
export type NewAuditLogRow = typeof auditLogs.$inferInsert;
