import m from "../dist/drizzle/index.js";

export const { auditLogs, buildOrderBy, buildWhereConditions, drizzleAuditAdapter, encodeCursor, decodeCursor, withAuditProxy } = m;
