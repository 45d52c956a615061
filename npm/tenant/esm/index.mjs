// ESM entry: the CommonJS build, so both module systems share one context store and one binding.
import m from "../dist/index.js";

export const {
  betterTenant,
  getContext,
  getDatabase,
  requireDatabase,
  runWithTenant,
  handleRequest,
  resolveTenant,
  runAs,
  runAsSystem,
  createTenantApi,
  toResolvableRequest,
  formatMissingTenantMessage,
  describeStrategies,
  TenantAcquireTimeoutError,
  TenantConfigError,
  TenantMiddlewareError,
  TenantNotResolvedError,
  TenantScopeClosedError,
  TenantScopeError,
} = m;
