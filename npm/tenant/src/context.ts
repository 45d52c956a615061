import { TENANT_CONTEXT } from "@usebetter-rs/core/shared";
import { AsyncLocalStorage } from "node:async_hooks";
import { codedError, TenantScopeClosedError, TenantScopeError } from "./errors";

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
type Holder = { [TENANT_CONTEXT]?: AsyncLocalStorage<TenantContext> };
const holder = globalThis as Holder;
export const store: AsyncLocalStorage<TenantContext> = (holder[TENANT_CONTEXT] ??= new AsyncLocalStorage<TenantContext>());

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
  if (!id) throw codedError("INVALID_ARGUMENT", "better-tenant: tenantId must be a non-empty string");
  return store.run({ tenantId: id }, async () => fn());
}

/** A scope's lifetime: handles check it on every call. */
export interface Scope {
  closed: boolean;
  /**
   * One proxy per object reached from the scope's handle, so a handle reached twice is the same
   * handle. A Map the scope owns while it is small (weak entries keyed by short-lived objects
   * cost the young-generation GC on every request), a WeakMap once a long scope (a batch job)
   * has reached many objects, so those can still be freed; dropped when the scope closes.
   */
  proxies: Map<object, object> | WeakMap<object, object> | undefined;
}

/** A guarded handle answers this key with its scope (nothing else can read it: the symbol stays here). */
const SCOPE_OF = Symbol("usebetterdev.tenant.scope");

/**
 * Closes the current scope's handles right now, synchronously: framework adapters call it from
 * the event that ends a request (a client abort), so no continuation of the handler can slip a
 * query in between the event and the rollback.
 */
export function currentScopeCloser(): () => void {
  // The context's handle knows its scope, so the context itself carries nothing extra.
  const database = store.getStore()?.database;
  const scope = isObjectLike(database) ? ((database as { [SCOPE_OF]?: Scope })[SCOPE_OF] ?? undefined) : undefined;
  return () => {
    if (scope) scope.closed = true;
  };
}

/** Proxies a scope keeps in a Map before it moves them to a WeakMap. */
const MAP_PROXIES = 256;

const isFunction = (v: unknown): v is (...args: unknown[]) => unknown => typeof v === "function";
const isObjectLike = (v: unknown): v is object => v !== null && (typeof v === "object" || typeof v === "function");

// Settling callbacks get plain results: query rows are data, not handles.
const SETTLERS = new Set<PropertyKey>(["then", "catch", "finally"]);

/** Proxies must return a frozen property's own value (a Proxy invariant). */
const isFixed = (obj: object, prop: PropertyKey) => {
  const d = Object.getOwnPropertyDescriptor(obj, prop);
  return d !== undefined && d.configurable === false && d.writable === false;
};

/**
 * Wraps a database handle so that any method call after the scope ends throws instead of
 * running on a connection that may already serve another tenant. Everything reachable from the
 * handle is wrapped too: objects returned by calls (query builders), objects read from its
 * properties (`db._.session`, `session.client`), and the arguments the handle passes to callbacks
 * (the `tx` of `db.transaction(cb)`), so no path from a scoped handle outlives the scope.
 */
export function guard<T>(target: T, scope: Scope): T {
  if (!isObjectLike(target) || target instanceof Promise) return target;
  let byTarget = (scope.proxies ??= new Map());
  const known = byTarget.get(target);
  if (known) return known as T;
  const proxy = new Proxy(target, {
    get(obj, prop) {
      if (prop === SCOPE_OF) return scope;
      const value: unknown = Reflect.get(obj, prop, obj);
      if (prop === "constructor" || typeof prop === "symbol" || (isObjectLike(value) && isFixed(obj, prop))) return value;
      if (typeof value !== "function") return isObjectLike(value) ? guard(value, scope) : value;
      const settler = SETTLERS.has(prop);
      return function guarded(this: unknown, ...args: unknown[]) {
        if (scope.closed) throw new TenantScopeClosedError();
        // Most calls pass no callback: their arguments go through as they are.
        const wrapped = settler || !args.some(isFunction) ? args : args.map((a) => (isFunction(a) ? guardCallback(a, scope) : a));
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(obj, wrapped);
        return result === obj ? proxy : guard(result, scope);
      };
    },
  });
  if (byTarget instanceof Map && byTarget.size >= MAP_PROXIES) scope.proxies = byTarget = new WeakMap(byTarget);
  byTarget.set(target, proxy);
  return proxy as T;
}

/** A callback handed to the handle receives guarded arguments (the `tx` of a transaction). */
function guardCallback(fn: (...args: unknown[]) => unknown, scope: Scope) {
  return function guardedCallback(this: unknown, ...args: unknown[]) {
    return fn.apply(this, args.map((a) => guard(a, scope)));
  };
}
