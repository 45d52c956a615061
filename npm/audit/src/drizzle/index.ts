export { auditLogs, type AuditLogRow, type NewAuditLogRow } from "./schema";
export { drizzleAuditAdapter, type DrizzlePgDatabase } from "./adapter";
export { encodeCursor, decodeCursor } from "./cursor";
export { withAuditProxy, type AuditProxyOptions } from "./proxy";
