import core from "@usebetter-rs/core";
import { hearConnectionErrors } from "@usebetter-rs/core/connections";
import { asc, count, eq, sql, type SQL } from "drizzle-orm";
import { pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import type { Tenant } from "../context";
import { TenantConfigError } from "../errors";
import { fastScope } from "./fast";
import { isPostgresJs, postgresJsTransaction } from "./postgresjs";
import { applyScope, type Rows, type ScopeOptions } from "../setup";
import type { DatabaseProvider, TenantRepository } from "../types";

export const tenantsTable = pgTable("tenants", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  slug: text("slug").notNull().unique(),
  createdAt: timestamp("created_at", { withTimezone: true }).defaultNow().notNull(),
}).enableRLS();

/**
 * Spread into a table's columns. The default reads the current tenant; an empty setting
 * (left behind by an earlier transaction on a pooled connection) counts as none. The
 * expression is the core's, the one its policies compare with.
 */
export const tenantId = {
  tenantId: uuid("tenant_id")
    .notNull()
    .references(() => tenantsTable.id)
    .default(sql.raw(`(${core.tenantContract().tenantIdDefault})`)),
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

/** A core statement with `$n` placeholders as Drizzle SQL with bound parameters. */
function bound(text: string, params: readonly string[]): SQL {
  const parts = text.split(/\$(\d+)/);
  const chunks: SQL[] = [];
  parts.forEach((part, i) => chunks.push(i % 2 === 0 ? sql.raw(part) : sql`${params[Number(part) - 1]}`));
  return sql.join(chunks);
}

/** Rows of a Drizzle `execute` result: node-postgres gives `{ rows }`, postgres.js an array. */
function rowsOf(result: unknown): Rows {
  const r = result as { rows?: Rows } | Rows;
  return Array.isArray(r) ? (r as Rows) : ((r as { rows?: Rows }).rows ?? []);
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
  hearConnectionErrors(db, "better-tenant");
  const postgresJs = isPostgresJs(db);
  const scoped = <T>(tenantId: string | null, options: ScopeOptions | undefined, fn: (tx: TTx) => Promise<T>): Promise<T> => {
    const fast = fastScope(db, tenantId, options);
    if (fast) return fast(fn as (tx: never) => Promise<T>);
    const work = async (tx: TTx) => {
      await applyScope(async (q, params) => rowsOf(await tx.execute(bound(q, params))), tenantId, options);
      return fn(tx);
    };
    return postgresJs ? postgresJsTransaction(db, work) : db.transaction(work);
  };
  return {
    adapter: {
      runWithTenant: (id, fn, options?: ScopeOptions) => scoped(id, options, fn),
      runAsSystem: (fn, options?: ScopeOptions) => scoped(null, options, fn),
    },
    getTenantRepository: (tx) => repository(tx as unknown as AnyDb, table),
  };
}
