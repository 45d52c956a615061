// Opening and closing scopes: the transaction, the context, and the guarded handle that
// dies with the scope. Shared by betterTenant(), the low-level exports and tenant.api.
import { guard, store, withScope, type Scope, type Tenant } from "./context";
import { explain } from "./explain";
import type { ScopeOptions, TenantAdapter } from "./types";

/** Internal marker: the id was well-formed but names no tenant. */
export class UnknownTenant extends Error {}

/** Opens a tenant scope: transaction, context, guarded handle that dies with the scope. */
export async function inTenantScope<TDb, T>(
  adapter: TenantAdapter<TDb>,
  tenantId: string,
  options: ScopeOptions | undefined,
  load: ((db: TDb) => Promise<Tenant | null>) | undefined,
  fn: (db: TDb) => Promise<T>,
): Promise<T> {
  const scope: Scope = { closed: false };
  try {
    return await adapter.runWithTenant(
      tenantId,
      async (raw) => {
        const db = guard(raw, scope);
        const ctx = withScope({ tenantId, database: db }, scope);
        if (load) {
          const tenant = await load(raw);
          if (!tenant) throw new UnknownTenant(tenantId);
          ctx.tenant = tenant;
        }
        try {
          return await store.run(ctx, () => fn(db));
        } finally {
          // Closed before COMMIT/ROLLBACK is even sent, not after it completes.
          scope.closed = true;
        }
      },
      options,
    );
  } catch (err) {
    throw explain(err, tenantId);
  } finally {
    scope.closed = true;
  }
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
  const scope: Scope = { closed: false };
  return store
    .run({ isSystem: true }, () => system((db) => fn(guard(db, scope)), options))
    .catch((err: unknown) => {
      throw explain(err, null);
    })
    .finally(() => {
      scope.closed = true;
    });
}

