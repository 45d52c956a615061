import core, { type TenantsSql } from "@usebetter-rs/core";
import type { Tenant } from "../context";
import { codedError, TenantConfigError } from "../errors";
import { applyScope, type Rows, type ScopeOptions } from "../setup";
import type { DatabaseProvider, TenantRepository } from "../types";

export type PrismaTransactionClient = {
  $executeRaw(query: TemplateStringsArray, ...values: unknown[]): Promise<number>;
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): Promise<T>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
};

export type PrismaClientLike<TxClient extends PrismaTransactionClient = PrismaTransactionClient> = PrismaTransactionClient & {
  $transaction<T>(fn: (tx: TxClient) => Promise<T>, options?: { maxWait?: number; timeout?: number; isolationLevel?: string }): Promise<T>;
};

/** Model input without the tenant columns: the trigger (or the column default) fills them. */
export type WithOptionalTenant<T> = Omit<T, "tenantId" | "tenant"> & { tenantId?: string };

type Row = { id: unknown; name: unknown; slug: unknown; created_at?: unknown; createdAt?: unknown };

const toTenant = (r: Row | undefined): Tenant | null =>
  r ? { id: String(r.id), name: String(r.name), slug: String(r.slug), createdAt: (r.created_at ?? r.createdAt) as Date } : null;

function repository(tx: PrismaTransactionClient, sql: TenantsSql): TenantRepository {
  const one = async (q: string, ...v: unknown[]) => toTenant((await tx.$queryRawUnsafe<Row[]>(q, ...v))[0]);
  return {
    async create(data) {
      return (await one(sql.create, globalThis.crypto.randomUUID(), data.name, data.slug)) as Tenant;
    },
    getById: (id) => one(sql.byId, id),
    getBySlug: (slug) => one(sql.bySlug, slug),
    async update(id, data) {
      const row =
        data.name !== undefined || data.slug !== undefined ? await one(sql.update, id, data.name ?? null, data.slug ?? null) : await one(sql.byId, id);
      if (!row) throw codedError("TENANT_NOT_FOUND", "better-tenant: tenant not found");
      return row;
    },
    async list(options = {}) {
      const rows = await tx.$queryRawUnsafe<Row[]>(sql.list, options.limit ?? 50, options.offset ?? 0);
      return rows.map((r) => toTenant(r) as Tenant);
    },
    async delete(id) {
      await tx.$executeRawUnsafe(sql.delete, id);
    },
    async count() {
      const [r] = await tx.$queryRawUnsafe<Array<{ count: number }>>(sql.count);
      return Number(r?.count ?? 0);
    },
  };
}

export function prismaDatabase<TxClient extends PrismaTransactionClient = PrismaTransactionClient>(
  prisma: PrismaClientLike<TxClient>,
  options: { tableName?: string } = {},
): DatabaseProvider<TxClient, TxClient> {
  let sql: TenantsSql;
  try {
    sql = core.tenantsSql(options.tableName ?? null);
  } catch (err) {
    throw new TenantConfigError((err as Error).message, { cause: err });
  }
  if (!prisma || typeof prisma.$transaction !== "function") {
    throw new TenantConfigError("better-tenant: prismaDatabase(prisma) needs a Prisma client (with $transaction)");
  }
  const scoped = <T>(tenantId: string | null, options: ScopeOptions | undefined, fn: (tx: TxClient) => Promise<T>) =>
    prisma.$transaction(async (tx) => {
      await applyScope((q, params) => tx.$queryRawUnsafe<Rows>(q, ...params), tenantId, options);
      return fn(tx);
    });
  return {
    adapter: {
      runWithTenant: (id, fn, options?: ScopeOptions) => scoped(id, options, fn),
      runAsSystem: (fn, options?: ScopeOptions) => scoped(null, options, fn),
    },
    getTenantRepository: (tx) => repository(tx, sql),
  };
}
