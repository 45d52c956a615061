import m from "../dist/drizzle/index.js";

export const { auditLogs, drizzleAuditAdapter, encodeCursor, decodeCursor, withAuditProxy } = m;
