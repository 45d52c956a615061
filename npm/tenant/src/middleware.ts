// What every framework adapter shares: option checks, the missing-tenant body, and running
// the downstream handler in a scope that rolls back when told to.
import { RollbackSignal, TenantConfigError } from "./errors";
import { formatMissingTenantMessage, toResolvableRequest } from "./request";
import type { BetterTenantInstance } from "./tenant";
import type { NodeLikeRequest } from "./types";

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

/**
 * Runs `next` in the tenant scope. Returns `{ missing: true }` when no tenant was resolved;
 * a `RollbackSignal` thrown by `next` rolls the transaction back and is not an error.
 */
export async function runScoped(
  tenant: MiddlewareTenant,
  raw: Request | NodeLikeRequest,
  next: () => Promise<void>,
  isAborted?: () => boolean,
): Promise<{ missing: boolean }> {
  const MISSING = { missing: true };
  try {
    const out = await tenant.handleRequest(toResolvableRequest(raw), async () => {
      await next();
      return { missing: false };
    }, { onMissingTenant: () => MISSING, ...(isAborted ? { isAborted } : {}) });
    return out;
  } catch (err) {
    if (err instanceof RollbackSignal) return { missing: false };
    throw err;
  }
}
