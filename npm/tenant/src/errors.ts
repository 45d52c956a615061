import type { ErrorCode } from "@usebetter-rs/core";
import { coded } from "@usebetter-rs/core/shared";

/** The codes this package's errors carry in `err.code`; `satisfies` keeps them in the core's list. */
const TENANT_CODES = [
  "INVALID_ARGUMENT",
  "INVALID_CONFIG",
  "INTERNAL",
  "TENANT_ACQUIRE_TIMEOUT",
  "TENANT_INVALID_ID",
  "TENANT_INVALID_SLUG",
  "TENANT_NOT_FOUND",
  "TENANT_NO_SCOPE",
  "TENANT_SCOPE_CLOSED",
] as const satisfies readonly ErrorCode[];
export type TenantErrorCode = (typeof TENANT_CODES)[number];

/**
 * A plain `Error` (the class the reference throws for these) that also carries a stable code,
 * so callers can tell failures apart without parsing messages.
 */
export function codedError(code: TenantErrorCode, message: string, options?: { cause?: unknown }): Error & { code: TenantErrorCode } {
  return coded(new Error(message, options), code);
}

/** No tenant could be resolved from the request. */
export class TenantNotResolvedError extends Error {
  constructor(message = "better-tenant: tenant could not be resolved from request") {
    super(message);
    this.name = "TenantNotResolvedError";
  }
}

/** Something failed while running the tenant middleware; the cause is attached. */
export class TenantMiddlewareError extends Error {
  constructor(message = "better-tenant: failed to run tenant middleware", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TenantMiddlewareError";
  }
}

/** A scoped database handle was used after its scope (request, runAs) had ended. */
export class TenantScopeClosedError extends Error {
  readonly code: TenantErrorCode = "TENANT_SCOPE_CLOSED";
  constructor(
    message = "better-tenant: this database handle belongs to a tenant scope that has ended; use getDatabase() inside the scope",
  ) {
    super(message);
    this.name = "TenantScopeClosedError";
  }
}

/** No pooled connection became free within `timeouts.acquireMs`. */
export class TenantAcquireTimeoutError extends Error {
  readonly code: TenantErrorCode = "TENANT_ACQUIRE_TIMEOUT";
  constructor(ms: number) {
    super(
      `better-tenant: no database connection became free within ${ms} ms (timeouts.acquireMs); the pool is exhausted — raise the pool size, or bound queries with timeouts.statementMs / timeouts.lockMs`,
    );
    this.name = "TenantAcquireTimeoutError";
  }
}

/** `requireDatabase()` was called outside a tenant scope. */
export class TenantScopeError extends Error {
  readonly code: TenantErrorCode = "TENANT_NO_SCOPE";
  constructor(message = "better-tenant: requireDatabase() called outside a tenant scope (no tenant is active)") {
    super(message);
    this.name = "TenantScopeError";
  }
}

/** A configuration value is missing or wrong; the message names the field. */
export class TenantConfigError extends Error {
  readonly code: TenantErrorCode = "INVALID_CONFIG";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TenantConfigError";
  }
}

/** Internal: unwinds a scope so its transaction rolls back, without reporting an error. */
export class RollbackSignal extends Error {
  constructor(readonly reason: unknown) {
    super("better-tenant: rolled back");
    this.name = "RollbackSignal";
  }
}
