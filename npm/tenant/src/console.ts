// Endpoints registered with a usebetter console (`betterTenant({ console })`), same routes,
// permissions, statuses and bodies as the reference.
import { badRequest as bad, consoleHandler as safe, isPlainObject as isObject } from "@usebetter-rs/core/console";
import type { ConsoleProductEndpoint, ConsoleRequest } from "@usebetter-rs/core/console";
import type { TenantApi } from "./api";
import type { Tenant } from "./context";

export type { ConsoleProductEndpoint, ConsoleRegistration, ConsoleRequest, ConsoleResponse } from "@usebetter-rs/core/console";

const MAX_FIELD = 255;
const json = (t: Tenant) => ({ ...t, createdAt: t.createdAt instanceof Date ? t.createdAt.toISOString() : t.createdAt });

function boundedInt(raw: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n < min ? undefined : Math.min(n, max);
}

export function consoleEndpoints(api: TenantApi): ConsoleProductEndpoint[] {
  const idOf = (r: ConsoleRequest) => r.params.id?.trim();
  return [
    {
      method: "GET",
      path: "/tenants",
      requiredPermission: "read",
      handler: safe(async (r) => {
        const options: { limit?: number; offset?: number } = {};
        if (r.query.limit !== undefined) {
          const limit = boundedInt(r.query.limit, 1, 1000);
          if (limit === undefined) return bad("Invalid 'limit': must be a positive integer (max 1000)");
          options.limit = limit;
        }
        if (r.query.offset !== undefined) {
          const offset = boundedInt(r.query.offset, 0, Number.MAX_SAFE_INTEGER);
          if (offset === undefined) return bad("Invalid 'offset': must be a non-negative integer");
          options.offset = offset;
        }
        return { status: 200, body: (await api.listTenants(options)).map(json) };
      }),
    },
    {
      method: "GET",
      path: "/tenants/:id",
      requiredPermission: "read",
      handler: safe(async (r) => {
        const id = idOf(r);
        if (!id) return bad("Missing tenant id");
        const t = await api.getTenant(id);
        return t ? { status: 200, body: json(t) } : { status: 404, body: { error: "Tenant not found" } };
      }),
    },
    {
      method: "POST",
      path: "/tenants",
      requiredPermission: "write",
      handler: safe(async (r) => {
        if (!isObject(r.body)) return bad("Request body is required");
        const name = typeof r.body.name === "string" ? r.body.name : "";
        const slug = typeof r.body.slug === "string" ? r.body.slug : "";
        if (!name.trim() || !slug.trim()) return bad("name and slug are required");
        if (name.length > MAX_FIELD || slug.length > MAX_FIELD) return bad("name and slug must not exceed 255 characters");
        return { status: 201, body: json(await api.createTenant({ name, slug })) };
      }),
    },
    {
      method: "PATCH",
      path: "/tenants/:id",
      requiredPermission: "write",
      handler: safe(async (r) => {
        const id = idOf(r);
        if (!id) return bad("Missing tenant id");
        if (!isObject(r.body)) return bad("Request body is required");
        const data: { name?: string; slug?: string } = {};
        for (const field of ["name", "slug"] as const) {
          const v = r.body[field];
          if (typeof v !== "string") continue;
          if (v.length > MAX_FIELD) return bad(`${field} must not exceed 255 characters`);
          data[field] = v;
        }
        return { status: 200, body: json(await api.updateTenant(id, data)) };
      }),
    },
    {
      method: "DELETE",
      path: "/tenants/:id",
      requiredPermission: "admin",
      handler: safe(async (r) => {
        const id = idOf(r);
        if (!id) return bad("Missing tenant id");
        await api.deleteTenant(id);
        return { status: 204, body: null };
      }),
    },
    {
      method: "GET",
      path: "/stats",
      requiredPermission: "read",
      handler: safe(async () => ({ status: 200, body: { tenantCount: await api.countTenants() } })),
    },
  ];
}
