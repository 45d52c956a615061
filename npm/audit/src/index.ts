export { betterAudit, type BetterAuditConfig, type BetterAuditInstance } from "./audit";
export { getAuditContext, runWithAuditContext, mergeAuditContext, type AuditContext } from "./context";
export { AuditQueryBuilder, AuditQueryError, AuditQueryFailedError } from "./query";
export { createExportResponse, type ExportOptions, type ExportResponseOptions, type ExportResult } from "./export";
export { AuditConfigError } from "./enrich";
export { AuditDataError } from "./json";
export { parseDuration } from "./duration";
export type * from "./types";
export { fromBearerToken, fromCookie, fromHeader, type ContextExtractor, type ValueExtractor } from "./extractors";
