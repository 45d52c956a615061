import { TENANT_CONTEXT } from "@usebetter-rs/core/shared";
import { AsyncLocalStorage } from "node:async_hooks";

export interface AuditContext {
  actorId?: string;
  label?: string;
  reason?: string;
  compliance?: string[];
  metadata?: Record<string, unknown>;
}

// One store per process, shared by the ESM and CJS entries (the reference had two).
const STORE = Symbol.for("usebetterdev.audit.context");
const holder = globalThis as { [STORE]?: AsyncLocalStorage<AuditContext> };
const store: AsyncLocalStorage<AuditContext> = (holder[STORE] ??= new AsyncLocalStorage<AuditContext>());

export function getAuditContext(): AuditContext | undefined {
  return store.getStore();
}

/** Runs `fn` with `context` (replacing any outer context). */
export function runWithAuditContext<T>(context: AuditContext, fn: () => T | Promise<T>): Promise<T> {
  return Promise.resolve(store.run(context, fn));
}

/** Runs `fn` with the current context shallowly extended by `override`. */
export function mergeAuditContext<T>(override: Partial<AuditContext>, fn: () => T | Promise<T>): Promise<T> {
  const current = store.getStore();
  return runWithAuditContext(current ? { ...current, ...override } : { ...override }, fn);
}

/** The tenant of the current @usebetterdev/tenant scope, if that package is in use. */
export function currentTenantId(): string | undefined {
  const tenant = (globalThis as { [TENANT_CONTEXT]?: { getStore(): { tenantId?: string } | undefined } })[TENANT_CONTEXT];
  return tenant?.getStore()?.tenantId;
}
