import type { ErrorCode } from "@usebetter-rs/core";
import { coded as sharedCoded } from "@usebetter-rs/core/shared";

/** The codes this package's errors carry in `err.code`; `satisfies` keeps them in the core's list. */
const AUDIT_CODES = [
  "INVALID_ARGUMENT",
  "INVALID_CONFIG",
  "INTERNAL",
  "AUDIT_ADAPTER_UNSUPPORTED",
  "AUDIT_CAPTURE_TABLE",
  "AUDIT_INVALID_DATA",
  "AUDIT_INVALID_QUERY",
  "AUDIT_QUERY_FAILED",
  "AUDIT_SEALED_PURGE",
  "AUDIT_TABLE_MISSING",
  "AUDIT_UNCAPTURED_WRITE",
] as const satisfies readonly ErrorCode[];
export type AuditErrorCode = (typeof AUDIT_CODES)[number];

/** `err` with a stable `code` (one of this package's) and the class the reference throws. */
export const coded: <E extends Error>(err: E, code: AuditErrorCode) => E & { code: AuditErrorCode } = sharedCoded;
