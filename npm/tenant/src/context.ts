import { AsyncLocalStorage } from "node:async_hooks";
import { TenantScopeClosedError, TenantScopeError } from "./errors";

export interface Tenant {
  id: string;
  name: string;
  slug: string;
  createdAt: Date | string;
  [key: string]: unknown;
}

export interface TenantContext {
  tenantId?: string;
  tenant?: Tenant;
  database?: unknown;
  isSystem?: boolean;
}

// One store per process, shared by the ESM and CJS entries and by duplicate installs.
const STORE = Symbol.for("usebetterdev.tenant.context");
type Holder = { [STORE]?: AsyncLocalStorage<TenantContext> };
const holder = globalThis as Holder;
export const store: AsyncLocalStorage<TenantContext> = (holder[STORE] ??= new AsyncLocalStorage<TenantContext>());

export function getContext(): TenantContext | undefined {
  return store.getStore();
}

export function getDatabase<T = unknown>(): T | undefined {
  return store.getStore()?.database as T | undefined;
}

export function requireDatabase<T = unknown>(): T {
  const db = store.getStore()?.database;
  if (db === undefined) throw new TenantScopeError();
  return db as T;
}

export async function runWithTenant<T>(tenantId: string, fn: () => T | Promise<T>): Promise<T> {
  const id = typeof tenantId === "string" ? tenantId.trim() : "";
  if (!id) throw new Error("better-tenant: tenantId must be a non-empty string");
  return store.run({ tenantId: id }, async () => fn());
}

/** A scope's lifetime: handles check it on every call. */
export interface Scope {
  closed: boolean;
}

const SCOPE = Symbol("usebetterdev.tenant.scope");

/** Attaches `scope` to a context object without changing its visible shape. */
export function withScope(ctx: TenantContext, scope: Scope): TenantContext {
  Object.defineProperty(ctx, SCOPE, { value: scope, enumerable: false });
  return ctx;
}

/**
 * Closes the current scope's handles right now, synchronously: framework adapters call it from
 * the event that ends a request (a client abort), so no continuation of the handler can slip a
 * query in between the event and the rollback.
 */
export function currentScopeCloser(): () => void {
  const scope = (store.getStore() as { [SCOPE]?: Scope } | undefined)?.[SCOPE];
  return () => {
    if (scope) scope.closed = true;
  };
}

const isThenableFn = (v: unknown): v is Promise<unknown> => v instanceof Promise;

/**
 * Wraps a database handle so that any method call after the scope ends throws instead of
 * running on a connection that may already serve another tenant. Objects returned by calls
 * (query builders) are wrapped too, so a builder created in scope cannot run after it.
 */
export function guard<T>(target: T, scope: Scope): T {
  if (target === null || (typeof target !== "object" && typeof target !== "function")) return target;
  return new Proxy(target as object, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj);
      if (typeof value !== "function" || prop === "constructor") return value;
      return function guarded(this: unknown, ...args: unknown[]) {
        if (scope.closed) throw new TenantScopeClosedError();
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (result !== null && typeof result === "object" && !isThenableFn(result) && result !== obj) {
          return guard(result, scope);
        }
        return result === obj ? guard(obj, scope) : result;
      };
    },
  }) as T;
}
