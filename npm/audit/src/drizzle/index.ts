export { auditLogs, type AuditLogRow, type NewAuditLogRow } from "./schema";
export { drizzleAuditAdapter, type DrizzleAuditAdapterOptions, type DrizzlePgDatabase } from "./adapter";
export { encodeCursor, decodeCursor } from "./cursor";
export { buildWhereConditions, buildOrderBy } from "./filters";
export { withAuditProxy, type AuditProxyOptions } from "./proxy";
