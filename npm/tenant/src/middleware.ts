// What every framework adapter shares: option checks, the missing-tenant body, and running
// the downstream handler in a scope that rolls back when told to.
import { RollbackSignal, TenantConfigError } from "./errors";
import { formatMissingTenantMessage, READ_ALL, REQUEST_READS, resolvable, type Reads } from "./request";
import { attempt } from "./scope";
import type { BetterTenantInstance } from "./tenant";
import type { NodeLikeRequest, ResolvableRequest } from "./types";

export type MiddlewareTenant = Pick<BetterTenantInstance, "handleRequest" | "resolverStrategies">;

export function missingStatus(options: { missingTenantStatus?: unknown }, where: string): 401 | 404 {
  const s = options.missingTenantStatus ?? 404;
  if (s !== 401 && s !== 404) {
    throw new TenantConfigError(`better-tenant: ${where}: \`missingTenantStatus\` must be 401 or 404, got ${JSON.stringify(s)}`);
  }
  return s;
}

export function checkTenant(tenant: unknown, where: string): asserts tenant is MiddlewareTenant {
  const t = tenant as Partial<MiddlewareTenant> | undefined;
  if (!t || typeof t.handleRequest !== "function") {
    throw new TenantConfigError(`better-tenant: ${where} needs the instance returned by betterTenant()`);
  }
}

export const missingBody = (tenant: MiddlewareTenant) => ({ error: formatMissingTenantMessage(tenant.resolverStrategies) });

const MISSING = Object.freeze({ missing: true });
const FOUND = Object.freeze({ missing: false });
const onMissingTenant = () => MISSING;
const JUST_MISSING = { onMissingTenant };
const asOutcome = (missing: boolean) => (missing ? MISSING : FOUND);

/**
 * Runs `next` in the tenant scope. Returns `{ missing: true }` when no tenant was resolved;
 * a `RollbackSignal` thrown by `next` rolls the transaction back and is not an error.
 */
export function runScoped(
  tenant: MiddlewareTenant,
  raw: Request | NodeLikeRequest,
  next: () => Promise<void>,
  isAborted?: () => boolean,
): Promise<{ missing: boolean }> {
  return scopedThen(tenant, raw, next, isAborted, asOutcome);
}

/** `runScoped`, handing whether the tenant was missing to `after` in the same promise step. */
export function scopedThen<R>(
  tenant: MiddlewareTenant,
  raw: Request | NodeLikeRequest,
  next: () => Promise<void>,
  isAborted: (() => boolean) | undefined,
  after: (missing: boolean) => R | Promise<R>,
): Promise<R> {
  const reads = (tenant as { [REQUEST_READS]?: Reads })[REQUEST_READS] ?? READ_ALL;
  const answer = attempt(() => tenant.handleRequest<ResolvableRequest, unknown>(resolvable(raw, reads), next, isAborted ? { onMissingTenant, isAborted } : JUST_MISSING));
  return answer.then(
    (result) => after(result === MISSING),
    (err: unknown) => {
      if (err instanceof RollbackSignal) return after(false);
      throw err;
    },
  );
}
