import core from "@usebetter-rs/core";
import { createTenantApi, type TenantApi } from "./api";
import { consoleEndpoints, type ConsoleRegistration } from "./console";
import { TtlCache } from "./cache";
import { getContext, requireDatabase, runWithTenant, type Tenant, type TenantContext } from "./context";
import { attempt, inSystemScope, inTenantScope, UnknownTenant } from "./scope";
import { codedError, RollbackSignal, TenantConfigError, TenantMiddlewareError, TenantNotResolvedError } from "./errors";
import { compileResolver, describeStrategies, readsOf, REQUEST_READS, resolveCandidate, type Candidate } from "./request";
import type { ScopeOptions } from "./setup";
import type { DatabaseProvider, ResolvableRequest, TenantAdapter, TenantResolverConfig } from "./types";

export interface BetterTenantConfig<TDb = unknown, SDb = unknown> {
  database: DatabaseProvider<TDb, SDb>;
  tenantResolver: TenantResolverConfig;
  /** Load the tenant row into `getContext().tenant` (and reject unknown ids). Default true. */
  loadTenant?: boolean;
  /** Slug and tenant-row cache; `false` turns it off. Default 1,000 rows by id and 1,000 by slug, for 60 s. */
  cache?: false | { ttlMs?: number; maxEntries?: number };
  /** Signed tenant context (see the migration's hardened mode). */
  hardened?: { key: string };
  /**
   * Bounded waits (ms). `acquireMs` (default 10000): longest wait for a pooled connection
   * (node-postgres). `statementMs`, `lockMs`: transaction-local `statement_timeout` and
   * `lock_timeout` of every scope (default: the server's settings).
   */
  timeouts?: { acquireMs?: number; statementMs?: number; lockMs?: number };
  plugins?: ReadonlyArray<{ id: string; [key: string]: unknown }>;
  basePath?: string;
  telemetry?: { enabled?: boolean; debug?: boolean };
  /** A usebetter console: the tenant endpoints are registered with it at construction. */
  console?: ConsoleRegistration;
}

export interface BetterTenantInstance<TDb = unknown, SDb = unknown> {
  getContext: () => TenantContext | undefined;
  getDatabase: () => TDb | undefined;
  requireDatabase: () => TDb;
  runWithTenant: typeof runWithTenant;
  runAs: <T>(tenantId: string, fn: (database: TDb) => Promise<T>) => Promise<T>;
  runAsSystem: <T>(fn: (database: SDb) => Promise<T>) => Promise<T>;
  resolveTenant: (request: ResolvableRequest) => Promise<string | undefined>;
  resolverStrategies: string[];
  handleRequest: <Req extends ResolvableRequest, Result>(
    request: Req,
    next: () => Promise<Result>,
    options?: {
      onMissingTenant?: (request: Req) => Result | Promise<Result>;
      onError?: (error: unknown, request: Req) => Result | Promise<Result>;
      /** The client is gone: a request still waiting for a connection does not take one. */
      isAborted?: () => boolean;
    },
  ) => Promise<Result>;
  api: TenantApi;
}

function validateDatabase(database: unknown): asserts database is DatabaseProvider {
  const d = database as Partial<DatabaseProvider> | undefined;
  if (!d || typeof d !== "object") {
    throw new TenantConfigError("better-tenant: `database` is required: pass drizzleDatabase(db) or prismaDatabase(prisma)");
  }
  if (!d.adapter || typeof d.adapter.runWithTenant !== "function") {
    throw new TenantConfigError("better-tenant: `database.adapter.runWithTenant` must be a function");
  }
  if (typeof d.getTenantRepository !== "function") {
    throw new TenantConfigError("better-tenant: `database.getTenantRepository` must be a function");
  }
}

const CONFIG_KEYS = new Set(["database", "tenantResolver", "loadTenant", "cache", "hardened", "timeouts", "plugins", "basePath", "telemetry", "console"]);

/** A misspelt key (`loadTennant`) would otherwise silently keep its default. */
function validateShape(config: object): void {
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) {
      throw new TenantConfigError(`better-tenant: unknown config key \`${key}\`: expected one of ${[...CONFIG_KEYS].join(", ")}`);
    }
  }
  const { loadTenant } = config as { loadTenant?: unknown };
  if (loadTenant !== undefined && typeof loadTenant !== "boolean") {
    throw new TenantConfigError(`better-tenant: \`loadTenant\` must be true or false, got ${JSON.stringify(loadTenant)}`);
  }
}

let warnedUnverified = false;

const MAX_TIMEOUT_MS = 2_147_483_647;

/** `timeouts` as scope options: whole milliseconds, 1 to 2^31-1 (PostgreSQL's int range). */
function scopeTimeouts(t: BetterTenantConfig["timeouts"]): Pick<ScopeOptions, "acquireTimeoutMs" | "statementTimeoutMs" | "lockTimeoutMs"> {
  if (t !== undefined && (t === null || typeof t !== "object")) {
    throw new TenantConfigError("better-tenant: `timeouts` must be an object like { acquireMs: 10000, statementMs: 30000, lockMs: 5000 }");
  }
  const ms = (name: "acquireMs" | "statementMs" | "lockMs", fallback?: number) => {
    const v = t?.[name] ?? fallback;
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= MAX_TIMEOUT_MS)) {
      throw new TenantConfigError(`better-tenant: \`timeouts.${name}\` must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return { acquireTimeoutMs: ms("acquireMs", 10_000), statementTimeoutMs: ms("statementMs"), lockTimeoutMs: ms("lockMs") };
}

export function betterTenant<TDb, SDb>(config: BetterTenantConfig<TDb, SDb>): BetterTenantInstance<TDb, SDb> {
  if (!config || typeof config !== "object") throw new TenantConfigError("better-tenant: betterTenant(config) needs a config object");
  validateShape(config);
  validateDatabase(config.database);
  const { adapter, getTenantRepository } = config.database;
  const resolverConfig = config.tenantResolver;
  const resolver = compileResolver(resolverConfig);
  const reads = readsOf(resolverConfig);
  if (resolver.jwtUnverified && !warnedUnverified) {
    warnedUnverified = true;
    console.warn("better-tenant: tenantResolver.jwt.unverified is on: JWT signatures are NOT checked");
  }
  if (config.hardened !== undefined && (typeof config.hardened?.key !== "string" || config.hardened.key.length < 32)) {
    throw new TenantConfigError("better-tenant: `hardened.key` must be a string of at least 32 characters");
  }
  const key = config.hardened?.key;
  const loadTenant = config.loadTenant !== false;
  const cacheCfg = config.cache === false ? { ttlMs: 0, maxEntries: 0 } : config.cache ?? {};
  // Rows by id and by slug, each keyed by the string resolution hands over (the same string for a
  // repeated request, so its hash is computed once, not a new `kind:value` key per request).
  const byId = new TtlCache<Tenant>(cacheCfg.maxEntries ?? 1000, cacheCfg.ttlMs ?? 60_000);
  const bySlugCache = new TtlCache<Tenant>(cacheCfg.maxEntries ?? 1000, cacheCfg.ttlMs ?? 60_000);
  // Signatures are made per transaction by the adapter (they name the transaction).
  const scopeOptions: ScopeOptions = { key, ...scopeTimeouts(config.timeouts) };

  const runAsSystem = <T>(fn: (database: SDb) => Promise<T>): Promise<T> => inSystemScope(adapter, scopeOptions, fn);

  // A cached row is answered at once, without a promise.
  const bySlug = (slug: string): Tenant | null | Promise<Tenant | null> =>
    bySlugCache.get(slug) ??
    runAsSystem((db) => getTenantRepository(db).getBySlug(slug)).then((row) => {
      if (row) {
        bySlugCache.set(slug, row);
        byId.set(String(row.id).toLowerCase(), row);
      }
      return row;
    });

  // Runs inside the tenant transaction, so no second connection is needed (no deadlock). A
  // cached row is answered at once, without a promise.
  const loader = loadTenant
    ? (db: TDb, id: string): Tenant | null | Promise<Tenant | null> => {
        const hit = byId.get(id);
        if (hit) return hit;
        return Promise.resolve(getTenantRepository(db as unknown as SDb).getById(id)).then((row) => {
          if (row) byId.set(id, row);
          return row;
        });
      }
    : undefined;

  // Its answer is used as the tenant id itself, so it must be one (a UUID): anything else is
  // a bug in the callback, reported rather than turned into a missing tenant.
  const viaResolveToId = async (identifier: string): Promise<string | undefined> => {
    const mapped: unknown = await resolverConfig.resolveToId?.(identifier);
    if (mapped === undefined || mapped === null || (typeof mapped === "string" && !mapped.trim())) return undefined;
    let id: { value: string; kind: "uuid" | "slug" } | undefined;
    try {
      id = typeof mapped === "string" ? core.normalizeTenantId(mapped) : undefined;
    } catch {
      id = undefined;
    }
    if (id?.kind !== "uuid") {
      throw new TenantConfigError(
        `better-tenant: \`tenantResolver.resolveToId\` must return a tenant id (a UUID) or undefined; for ${JSON.stringify(identifier)} it returned ${JSON.stringify(mapped)}`,
      );
    }
    return id.value;
  };

  const fromSlug = (slug: string): string | undefined | Promise<string | undefined> => {
    if (!adapter.runAsSystem) return slug;
    const row = bySlug(slug);
    return row instanceof Promise ? row.then((r) => r?.id) : row?.id;
  };

  // `resolveToId` takes precedence over everything, UUID-looking values included (as in the reference).
  const idOf = (candidate: Candidate | undefined): string | undefined | Promise<string | undefined> => {
    if (!candidate) return undefined;
    if (resolverConfig.resolveToId) return viaResolveToId(candidate.value);
    return candidate.kind === "uuid" ? candidate.value : fromSlug(candidate.value);
  };
  // Synchronous when nothing needs waiting for (a UUID, a cached slug, no callbacks).
  const resolveId = (request: ResolvableRequest): string | undefined | Promise<string | undefined> => {
    const candidate = resolveCandidate(request, resolverConfig, resolver, reads);
    return candidate instanceof Promise ? candidate.then(idOf) : idOf(candidate);
  };
  const resolveTenant = async (request: ResolvableRequest): Promise<string | undefined> => resolveId(request);

  const runAs = async <T>(tenantId: string, fn: (database: TDb) => Promise<T>): Promise<T> => {
    let parsed: { value: string; kind: "uuid" | "slug" };
    try {
      parsed = core.normalizeTenantId(String(tenantId ?? ""));
    } catch (err) {
      throw codedError("TENANT_INVALID_ID", `better-tenant: runAs: ${(err as Error).message}`, { cause: err });
    }
    // An id is used as is (as the reference's runAs does); a slug goes through resolveToId or the lookup.
    const id =
      parsed.kind === "uuid" ? parsed.value : resolverConfig.resolveToId ? await viaResolveToId(parsed.value) : await fromSlug(parsed.value);
    if (!id) throw codedError("TENANT_NOT_FOUND", `better-tenant: tenant not found: ${JSON.stringify(parsed.value)}`);
    try {
      return await inTenantScope(adapter, id, scopeOptions, loader, fn);
    } catch (err) {
      if (err instanceof UnknownTenant) throw codedError("TENANT_NOT_FOUND", `better-tenant: tenant not found: ${JSON.stringify(id)}`);
      throw err;
    }
  };

  type Handle = BetterTenantInstance<TDb, SDb>["handleRequest"];
  type HandleOptions<Req, Result> = {
    onMissingTenant?: (request: Req) => Result | Promise<Result>;
    onError?: (error: unknown, request: Req) => Result | Promise<Result>;
    isAborted?: () => boolean;
  };
  const missing = <Req, Result>(request: Req, options: HandleOptions<Req, Result>): Result | Promise<Result> => {
    if (options.onMissingTenant) return options.onMissingTenant(request);
    const err = new TenantNotResolvedError();
    if (options.onError) return options.onError(err, request);
    throw err;
  };

  const failed = <Req, Result>(err: unknown, request: Req, options: HandleOptions<Req, Result>): Result | Promise<Result> => {
    if (err instanceof UnknownTenant) return missing(request, options);
    if (err instanceof RollbackSignal) throw err;
    if (options.onError) return options.onError(err, request);
    if (err instanceof TenantNotResolvedError || err instanceof TenantMiddlewareError) throw err;
    throw new TenantMiddlewareError("better-tenant: failed to run tenant middleware", { cause: err });
  };

  const inScope = <Req, Result>(request: Req, found: string | undefined, next: () => Promise<Result>, options: HandleOptions<Req, Result>): Promise<Result> => {
    const id = found?.trim();
    if (!id) return attempt(() => missing(request, options));
    const scope = options.isAborted ? { ...scopeOptions, aborted: options.isAborted } : scopeOptions;
    return inTenantScope(adapter, id, scope, loader, () => next(), (err: unknown) => failed<Req, Result>(err, request, options));
  };

  const handleRequest: Handle = (request, next, options = {}) => {
    // Documented to return a promise: nothing thrown here escapes synchronously.
    return attempt(() => {
      const found = resolveId(request);
      return found instanceof Promise ? found.then((id) => inScope(request, id, next, options)) : inScope(request, found, next, options);
    });
  };

  const api = createTenantApi(adapter, getTenantRepository, { onWrite: () => (byId.clear(), bySlugCache.clear()), scope: scopeOptions });
  if (config.console !== undefined) {
    if (typeof config.console?.registerProduct !== "function") {
      throw new TenantConfigError("better-tenant: `console.registerProduct` must be a function");
    }
    config.console.registerProduct({ id: "tenant", name: "Better Tenant", endpoints: consoleEndpoints(api) });
  }

  const instance: BetterTenantInstance<TDb, SDb> = {
    getContext,
    getDatabase: () => getContext()?.database as TDb | undefined,
    runWithTenant,
    runAs,
    runAsSystem,
    resolveTenant,
    resolverStrategies: describeStrategies(resolverConfig),
    handleRequest,
    api,
    requireDatabase: () => requireDatabase<TDb>(),
  };
  // For the framework adapters: what of a request resolution reads (not part of the API).
  Object.defineProperty(instance, REQUEST_READS, { value: reads });
  return instance;
}
