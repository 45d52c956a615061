import { asc, count, eq, sql, type SQL } from "drizzle-orm";
import { pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import type { Tenant } from "../context";
import { TenantConfigError } from "../errors";
import { fastScope } from "./fast";
import type { DatabaseProvider, ScopeSettings, TenantRepository } from "../types";

export const tenantsTable = pgTable("tenants", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  slug: text("slug").notNull().unique(),
  createdAt: timestamp("created_at", { withTimezone: true }).defaultNow().notNull(),
}).enableRLS();

/**
 * Spread into a table's columns. The default reads the current tenant; an empty setting
 * (left behind by an earlier transaction on a pooled connection) counts as none.
 */
export const tenantId = {
  tenantId: uuid("tenant_id")
    .notNull()
    .references(() => tenantsTable.id)
    .default(sql`(NULLIF(current_setting('app.current_tenant', true), ''))::uuid`),
} as const;

/**
 * Structural on purpose: the app's drizzle-orm declarations (ESM or CommonJS, which TypeScript
 * treats as different classes) must both fit.
 */
export interface DrizzlePgTransaction {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  execute(query: any): unknown;
}

export interface DrizzlePgDatabase<TTx extends DrizzlePgTransaction = DrizzlePgTransaction> {
  transaction<T>(cb: (tx: TTx) => Promise<T>): Promise<T>;
}

/** One statement sets every setting of the scope, transaction-locally. */
function setConfig(settings: Record<string, string>): SQL {
  const calls = Object.entries(settings).map(([k, v]) => sql`set_config(${k}, ${v}, true)`);
  return sql`SELECT ${sql.join(calls, sql`, `)}`;
}

type AnyDb = {
  select: (...args: unknown[]) => any;
  insert: (table: unknown) => any;
  update: (table: unknown) => any;
  delete: (table: unknown) => any;
};

function repository(db: AnyDb, table: typeof tenantsTable): TenantRepository {
  const toTenant = (row: Record<string, unknown> | undefined): Tenant | null => (row ? ({ ...row } as Tenant) : null);
  return {
    async create(data) {
      const [row] = await db.insert(table).values({ name: data.name, slug: data.slug }).returning();
      return toTenant(row) as Tenant;
    },
    async getById(id) {
      const [row] = await db.select().from(table).where(eq(table.id, id)).limit(1);
      return toTenant(row);
    },
    async getBySlug(slug) {
      const [row] = await db.select().from(table).where(eq(table.slug, slug)).limit(1);
      return toTenant(row);
    },
    async update(id, data) {
      const patch: Record<string, string> = {};
      if (data.name !== undefined) patch.name = data.name;
      if (data.slug !== undefined) patch.slug = data.slug;
      const rows = Object.keys(patch).length
        ? await db.update(table).set(patch).where(eq(table.id, id)).returning()
        : await db.select().from(table).where(eq(table.id, id)).limit(1);
      const row = toTenant(rows[0]);
      if (!row) throw new Error("better-tenant: tenant not found");
      return row;
    },
    async list(options = {}) {
      // A stable order, so pages neither skip nor repeat tenants.
      return (await db
        .select()
        .from(table)
        .orderBy(asc(table.createdAt), asc(table.id))
        .limit(options.limit ?? 50)
        .offset(options.offset ?? 0)) as Tenant[];
    },
    async delete(id) {
      await db.delete(table).where(eq(table.id, id));
    },
    async count() {
      const [row] = await db.select({ n: count() }).from(table);
      return Number(row?.n ?? 0);
    },
  };
}

export function drizzleDatabase<TTx extends DrizzlePgTransaction>(
  db: DrizzlePgDatabase<TTx>,
  options: { table?: typeof tenantsTable } = {},
): DatabaseProvider<TTx, TTx> {
  if (!db || typeof db.transaction !== "function") {
    throw new TenantConfigError("better-tenant: drizzleDatabase(db) needs a Drizzle PostgreSQL database (with .transaction)");
  }
  const table = options.table ?? tenantsTable;
  const scoped = <T>(settings: Record<string, string>, fn: (tx: TTx) => Promise<T>): Promise<T> => {
    const fast = fastScope(db, settings);
    if (fast) return fast(fn as (tx: never) => Promise<T>);
    return db.transaction(async (tx) => {
      await tx.execute(setConfig(settings));
      return fn(tx);
    });
  };
  return {
    adapter: {
      runWithTenant: (id, fn, extra?: ScopeSettings) => scoped({ "app.current_tenant": id, ...extra }, fn),
      runAsSystem: (fn, extra?: ScopeSettings) => scoped({ "app.bypass_rls": "true", ...extra }, fn),
    },
    getTenantRepository: (tx) => repository(tx as unknown as AnyDb, table),
  };
}
