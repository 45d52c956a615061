import type { Tenant } from "./context";
import type { ScopeOptions } from "./setup";

export interface ResolvableRequest {
  headers: Headers | Record<string, string | string[] | undefined>;
  url?: string;
  path?: string;
  host?: string;
  method?: string;
  getToken?: (() => Promise<string | null> | string | null) | string | null;
}

export interface NodeLikeRequest {
  headers?: Record<string, string | string[] | number | undefined>;
  url?: string;
  originalUrl?: string;
  path?: string;
  hostname?: string;
  host?: string;
  method?: string;
}

export interface PathResolverConfig {
  pattern: string;
  segmentIndex?: number;
}
export type SubdomainResolverConfig = boolean | { segmentIndex?: number };

/** Verification options for the JWT strategy (checked in Rust). */
export interface JwtVerifyOptions {
  secret?: string;
  publicKey?: string;
  jwks?: string | { keys: object[] };
  algorithms?: Array<"HS256" | "HS384" | "HS512" | "RS256" | "RS384" | "RS512" | "ES256" | "EdDSA">;
  audience?: string | string[];
  issuer?: string | string[];
  leeway?: number;
}

export interface JwtResolverConfig extends JwtVerifyOptions {
  claim: string;
  /** Your own verifier: return the verified payload, or null. */
  verifyToken?: (token: string) => Record<string, unknown> | null | Promise<Record<string, unknown> | null>;
  /** Decode without verifying (only without keys and verifyToken). Off by default. */
  unverified?: boolean;
}

export interface TenantResolverConfig {
  header?: string;
  path?: string | PathResolverConfig;
  subdomain?: SubdomainResolverConfig;
  jwt?: string | JwtResolverConfig;
  custom?: (request: ResolvableRequest) => string | undefined | Promise<string | undefined>;
  resolveToId?: (identifier: string) => string | undefined | Promise<string | undefined>;
}

export interface TenantRepository {
  create(data: { name: string; slug: string }): Promise<Tenant>;
  getById(tenantId: string): Promise<Tenant | null>;
  getBySlug(slug: string): Promise<Tenant | null>;
  update(tenantId: string, data: Partial<Pick<Tenant, "name" | "slug">>): Promise<Tenant>;
  list(options?: { limit?: number; offset?: number }): Promise<Tenant[]>;
  delete(tenantId: string): Promise<void>;
  count(): Promise<number>;
}

/** How a scope signs its settings (hardened mode); adapters pass it to `applyScope`. */
export type { ScopeOptions } from "./setup";

export interface TenantAdapter<TDb = unknown, SDb = unknown> {
  runWithTenant<T>(tenantId: string, fn: (database: TDb) => Promise<T>, options?: ScopeOptions): Promise<T>;
  runAsSystem?<T>(fn: (database: SDb) => Promise<T>, options?: ScopeOptions): Promise<T>;
}

export interface DatabaseProvider<TDb = unknown, SDb = unknown> {
  adapter: TenantAdapter<TDb, SDb>;
  getTenantRepository: (database: SDb) => TenantRepository;
}

export interface CreateTenantData {
  name: string;
  slug: string;
}
export interface UpdateTenantData {
  name?: string;
  slug?: string;
}
export interface ListTenantsOptions {
  limit?: number;
  offset?: number;
}

export interface HandleRequestOptions<Req, Result> {
  resolveTenant: (request: Req) => string | undefined | Promise<string | undefined>;
  adapter: TenantAdapter;
  onMissingTenant?: (request: Req) => Result | Promise<Result>;
  onError?: (error: unknown, request: Req) => Result | Promise<Result>;
}
