// Opening and closing scopes: the transaction, the context, and the guarded handle that
// dies with the scope. Shared by betterTenant(), the low-level exports and tenant.api.
import { guard, store, type Scope, type Tenant, type TenantContext } from "./context";
import { explain } from "./explain";
import type { ScopeOptions, TenantAdapter } from "./types";

/** Internal marker: the id was well-formed but names no tenant. */
export class UnknownTenant extends Error {}

/** Loads the scope's tenant row inside its transaction; a cached row comes back without a promise. */
export type TenantLoader<TDb> = (db: TDb, tenantId: string) => Tenant | null | Promise<Tenant | null>;

/**
 * Opens a tenant scope: transaction, context, guarded handle that dies with the scope. Written
 * with promise handlers rather than async functions: each request passes through here, and every
 * async layer costs it a suspended frame and more promises for AsyncLocalStorage to track.
 * `onError`, when given, handles the scope's (explained) error in the same step.
 */
export function inTenantScope<TDb, T>(
  adapter: TenantAdapter<TDb>,
  tenantId: string,
  options: ScopeOptions | undefined,
  load: TenantLoader<TDb> | undefined,
  fn: (db: TDb) => Promise<T>,
  onError?: (err: unknown) => T | Promise<T>,
): Promise<T> {
  const scope: Scope = { closed: false, proxies: undefined };
  const running = attempt(() => adapter.runWithTenant(tenantId, (raw) => enter(raw, tenantId, scope, load, fn), options));
  return closing(scope, running, (err) => {
    const explained = explain(err, tenantId);
    if (onError) return onError(explained);
    throw explained;
  });
}

/** `f()` as a promise: a synchronous throw becomes a rejection. */
export function attempt<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (err) {
    return Promise.reject(err);
  }
}

const rethrow = (err: unknown): never => {
  throw err;
};

/** `running`, with `scope` closed the moment it settles; a failure then goes to `failed`. */
function closing<T>(scope: Scope, running: Promise<T>, failed: (err: unknown) => T | Promise<T> = rethrow): Promise<T> {
  return running.then(
    (value) => {
      scope.closed = true;
      scope.proxies = undefined;
      return value;
    },
    (err: unknown) => {
      scope.closed = true;
      scope.proxies = undefined;
      return failed(err);
    },
  );
}

/** Inside the transaction: the guarded handle, the context (with the tenant row), then `fn`. */
function enter<TDb, T>(raw: TDb, tenantId: string, scope: Scope, load: TenantLoader<TDb> | undefined, fn: (db: TDb) => Promise<T>): Promise<T> {
  const db = guard(raw, scope);
  const ctx: TenantContext = { tenantId, database: db };
  if (!load) return runIn(ctx, scope, fn, db);
  let found: Tenant | null | Promise<Tenant | null>;
  try {
    found = load(raw, tenantId);
  } catch (err) {
    return Promise.reject(err);
  }
  const withTenant = (tenant: Tenant | null): Promise<T> => {
    if (!tenant) return Promise.reject(new UnknownTenant(tenantId));
    ctx.tenant = tenant;
    return runIn(ctx, scope, fn, db);
  };
  // A cached row goes on without waiting a turn.
  return found instanceof Promise ? found.then(withTenant) : withTenant(found);
}

/** Runs `fn` in the context; the scope closes as soon as it settles, before COMMIT or ROLLBACK is even sent. */
function runIn<TDb, T>(ctx: TenantContext, scope: Scope, fn: (db: TDb) => Promise<T>, db: TDb): Promise<T> {
  return closing(scope, attempt(() => store.run(ctx, fn, db)));
}

export const NO_SYSTEM = "better-tenant: tenant.api and runAsSystem require adapter.runAsSystem; this adapter does not implement it";

/** Opens a bypass scope: context exactly `{ isSystem: true }`, handle dies with the scope. */
export function inSystemScope<SDb, T>(
  adapter: TenantAdapter<unknown, SDb>,
  options: ScopeOptions | undefined,
  fn: (database: SDb) => Promise<T>,
): Promise<T> {
  const system = adapter.runAsSystem?.bind(adapter);
  if (!system) return Promise.reject(new Error(NO_SYSTEM));
  const scope: Scope = { closed: false, proxies: undefined };
  const running = attempt(() => store.run({ isSystem: true }, () => system((db) => fn(guard(db, scope)), options)));
  return closing(scope, running, (err) => {
    throw explain(err, null);
  });
}

