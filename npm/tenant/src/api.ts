import core from "@usebetter-rs/core";
import { codedError } from "./errors";
import type { Tenant } from "./context";
import { inSystemScope } from "./scope";
import type { ScopeOptions } from "./setup";
import type { CreateTenantData, ListTenantsOptions, TenantAdapter, TenantRepository, UpdateTenantData } from "./types";

export interface TenantApi {
  createTenant(data: CreateTenantData): Promise<Tenant>;
  updateTenant(tenantId: string, data: UpdateTenantData): Promise<Tenant>;
  listTenants(options?: ListTenantsOptions): Promise<Tenant[]>;
  deleteTenant(tenantId: string): Promise<void>;
  getTenant(tenantId: string): Promise<Tenant | null>;
  countTenants(): Promise<number>;
}


const present = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";

/**
 * Slugs double as host labels; the core holds the rule. Checked as given, so a slug is stored
 * exactly as passed (createTenant trims first, as the reference does).
 */
function checkSlug(slug: string): string {
  try {
    core.checkSlug(slug);
  } catch (err) {
    throw codedError("TENANT_INVALID_SLUG", `better-tenant: ${(err as Error).message}`, { cause: err });
  }
  return slug;
}

/**
 * Tenant CRUD, every call under the bypass. `onWrite` runs after each write (cache
 * invalidation); `scope` carries the hardened-mode key.
 */
export function createTenantApi<TDb, SDb>(
  adapter: TenantAdapter<TDb, SDb>,
  getTenantRepository: (database: SDb) => TenantRepository,
  options: { onWrite?: () => void; scope?: ScopeOptions | undefined } = {},
): TenantApi {
  const onWrite = options.onWrite ?? (() => {});
  const system = <T>(fn: (repo: TenantRepository) => Promise<T>): Promise<T> =>
    inSystemScope(adapter as TenantAdapter<unknown, SDb>, options.scope, (db) => fn(getTenantRepository(db)));
  const write = async <T>(fn: (repo: TenantRepository) => Promise<T>): Promise<T> => {
    try {
      return await system(fn);
    } finally {
      onWrite();
    }
  };
  return {
    async createTenant(data) {
      if (!present(data?.name)) throw codedError("INVALID_ARGUMENT", "better-tenant: createTenant requires name");
      if (!present(data?.slug)) throw codedError("INVALID_ARGUMENT", "better-tenant: createTenant requires slug");
      const slug = checkSlug(data.slug.trim());
      return write((r) => r.create({ name: data.name.trim(), slug }));
    },
    async updateTenant(tenantId, data) {
      if (!present(tenantId)) throw codedError("INVALID_ARGUMENT", "better-tenant: updateTenant requires tenantId");
      const patch: Partial<Pick<Tenant, "name" | "slug">> = {};
      // Stored as given, like the reference's updateTenant (only createTenant trims).
      if (data?.name !== undefined) patch.name = data.name;
      if (data?.slug !== undefined) patch.slug = checkSlug(data.slug);
      return write((r) => r.update(tenantId.trim(), patch));
    },
    async listTenants(options) {
      const limit = options?.limit ?? 50;
      const offset = Math.max(0, options?.offset ?? 0);
      return system((r) => r.list({ limit, offset }));
    },
    async deleteTenant(tenantId) {
      if (!present(tenantId)) throw codedError("INVALID_ARGUMENT", "better-tenant: deleteTenant requires tenantId");
      return write((r) => r.delete(tenantId.trim()));
    },
    async getTenant(tenantId) {
      if (!present(tenantId)) throw codedError("INVALID_ARGUMENT", "better-tenant: getTenant requires tenantId");
      return system((r) => r.getById(tenantId.trim()));
    },
    async countTenants() {
      return system((r) => r.count());
    },
  };
}
