// The reference's low-level exports: the same behaviour without a betterTenant() instance.
import { TenantMiddlewareError, TenantNotResolvedError } from "./errors";
import { compileResolver, readsOf, resolveCandidate, type CompiledResolver, type Reads } from "./request";
import { inSystemScope, inTenantScope } from "./scope";
import type { HandleRequestOptions, ResolvableRequest, TenantAdapter, TenantResolverConfig } from "./types";

const compiled = new WeakMap<TenantResolverConfig, { resolver: CompiledResolver; reads: Reads }>();

/** The raw identifier a request names (UUIDs lower-cased), without any slug lookup. */
export async function resolveTenant(request: ResolvableRequest, config: TenantResolverConfig): Promise<string | undefined> {
  let entry = compiled.get(config);
  if (!entry) {
    entry = { resolver: compileResolver(config), reads: readsOf(config) };
    compiled.set(config, entry);
  }
  return (await resolveCandidate(request, config, entry.resolver, entry.reads))?.value;
}

export function runAs<TDb, T>(tenantId: string, adapter: TenantAdapter<TDb>, fn: (database: TDb) => Promise<T>): Promise<T> {
  return inTenantScope(adapter, tenantId, undefined, undefined, fn);
}

export function runAsSystem<SDb, T>(adapter: TenantAdapter<unknown, SDb>, fn: (database: SDb) => Promise<T>): Promise<T> {
  return inSystemScope(adapter, undefined, fn);
}

export async function handleRequest<Req, Result>(
  request: Req,
  next: () => Promise<Result>,
  options: HandleRequestOptions<Req, Result>,
): Promise<Result> {
  const id = (await options.resolveTenant(request))?.trim();
  if (!id) {
    if (options.onMissingTenant) return options.onMissingTenant(request);
    const err = new TenantNotResolvedError();
    if (options.onError) return options.onError(err, request);
    throw err;
  }
  try {
    return await inTenantScope(options.adapter, id, undefined, undefined, () => next());
  } catch (err) {
    if (options.onError) return options.onError(err, request);
    if (err instanceof TenantNotResolvedError || err instanceof TenantMiddlewareError) throw err;
    throw new TenantMiddlewareError("better-tenant: failed to run tenant middleware", { cause: err });
  }
}
