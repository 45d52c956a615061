export { betterTenant, type BetterTenantConfig, type BetterTenantInstance } from "./tenant";
export { getContext, getDatabase, requireDatabase, runWithTenant, type Tenant, type TenantContext } from "./context";
export { handleRequest, resolveTenant, runAs, runAsSystem } from "./lowlevel";
export { createTenantApi, type TenantApi } from "./api";
export type { ConsoleProductEndpoint, ConsoleRegistration, ConsoleRequest, ConsoleResponse } from "./console";
export { toResolvableRequest, formatMissingTenantMessage, describeStrategies } from "./request";
export {
  TenantAcquireTimeoutError,
  TenantConfigError,
  TenantMiddlewareError,
  TenantNotResolvedError,
  TenantScopeClosedError,
  TenantScopeError,
  type TenantErrorCode,
} from "./errors";
export type * from "./types";
