// ESM entry: the CommonJS build, so both module systems share one context store.
import m from "../dist/index.js";

export const {
  betterAudit,
  AuditDataError,
  getAuditContext,
  runWithAuditContext,
  mergeAuditContext,
  AuditQueryBuilder,
  AuditQueryError,
  AuditQueryFailedError,
  AuditSealedPurgeError,
  createExportResponse,
  AuditConfigError,
  parseDuration,
  fromBearerToken,
  fromCookie,
  fromHeader,
  captureLogsIn,
} = m;
