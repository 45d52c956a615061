import core from "@usebetter-rs/core";
import { hearConnectionErrors } from "@usebetter-rs/core/connections";
import type * as Orm from "drizzle-orm";
import type * as PgCore from "drizzle-orm/pg-core";
import type { Tenant } from "../context";
import { codedError, TenantConfigError } from "../errors";
import { fastScope, type ScopeRunner } from "./fast";
import { isPostgresJs, postgresJsTransaction } from "./postgresjs";
import { applyScope, type Rows, type ScopeOptions } from "../setup";
import type { DatabaseProvider, TenantRepository } from "../types";

/**
 * The drizzle-orm functions this module calls. Each entry point hands over the drizzle-orm of
 * its own module system (the CommonJS build requires it, the ESM entry imports it), so an ESM
 * app never loads a second, CommonJS copy of drizzle-orm next to its own.
 */
export interface DrizzleKit {
  asc: typeof Orm.asc;
  count: typeof Orm.count;
  eq: typeof Orm.eq;
  sql: typeof Orm.sql;
  pgTable: typeof PgCore.pgTable;
  text: typeof PgCore.text;
  timestamp: typeof PgCore.timestamp;
  uuid: typeof PgCore.uuid;
  /** Loads drizzle-orm/node-postgres/session, only when a node-postgres database is scoped. */
  nodePgSession: () => Promise<unknown>;
}

/**
 * Structural on purpose: the app's drizzle-orm declarations (ESM or CommonJS, which TypeScript
 * treats as different classes) must both fit.
 */
export interface DrizzlePgTransaction {
  // `any`: each drizzle copy's SQL class is a different type; a parameter of either must fit.
  execute(query: any): unknown;
}

export interface DrizzlePgDatabase<TTx extends DrizzlePgTransaction = DrizzlePgTransaction> {
  transaction<T>(cb: (tx: TTx) => Promise<T>): Promise<T>;
}

/** Rows of a Drizzle `execute` result: node-postgres gives `{ rows }`, postgres.js an array. */
function rowsOf(result: unknown): Rows {
  const r = result as { rows?: Rows } | Rows;
  return Array.isArray(r) ? (r as Rows) : ((r as { rows?: Rows }).rows ?? []);
}

export interface DrizzleDatabaseOptions<Table> {
  /** The tenants table, when the app declares its own. */
  table?: Table;
  /**
   * node-postgres 8.17+: a plain scope's reads that repeat on a connection run as named prepared
   * statements, parsed and planned once per connection (default true). A connection whose
   * server lost one (a pooler in transaction mode before PgBouncer 1.21) answers that read in
   * the scope's transaction and stops preparing; `false` never prepares.
   */
  prepare?: boolean;
}

type AnyDb = {
  select: (...args: unknown[]) => any;
  insert: (table: unknown) => any;
  update: (table: unknown) => any;
  delete: (table: unknown) => any;
};

/**
 * The tenants table, as the kit's `pgTable` builds it. The name is the core's; the cast keeps
 * the literal type the reference's declarations give the table.
 */
function tenantsTableOf({ pgTable, text, timestamp, uuid }: DrizzleKit, name: string) {
  return pgTable(name as "tenants", {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    slug: text("slug").notNull().unique(),
    createdAt: timestamp("created_at", { withTimezone: true }).defaultNow().notNull(),
  }).enableRLS();
}

type TenantsTable = ReturnType<typeof tenantsTableOf>;

/** The module's exports, made with the drizzle-orm that `kit` comes from. */
export function build(kit: DrizzleKit) {
  const { asc, count, eq, sql, uuid } = kit;
  const contract = core.tenantContract();
  const tenantsTable = tenantsTableOf(kit, contract.tenantsTable);

  /**
   * Spread into a table's columns. The default reads the current tenant; an empty setting
   * (left behind by an earlier transaction on a pooled connection) counts as none. The
   * expression is the core's, the one its policies compare with.
   */
  const tenantId = {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenantsTable.id)
      .default(sql.raw(`(${contract.tenantIdDefault})`)),
  } as const;

  /** A core statement with `$n` placeholders as Drizzle SQL with bound parameters. */
  function bound(text: string, params: readonly string[]): Orm.SQL {
    const parts = text.split(/\$(\d+)/);
    const chunks: Orm.SQL[] = [];
    parts.forEach((part, i) => chunks.push(i % 2 === 0 ? sql.raw(part) : sql`${params[Number(part) - 1]}`));
    return sql.join(chunks);
  }

  function repository(db: AnyDb, table: TenantsTable): TenantRepository {
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
        if (!row) throw codedError("TENANT_NOT_FOUND", "better-tenant: tenant not found");
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

  function drizzleDatabase<TTx extends DrizzlePgTransaction>(
    db: DrizzlePgDatabase<TTx>,
    options: DrizzleDatabaseOptions<TenantsTable> = {},
  ): DatabaseProvider<TTx, TTx> {
    if (!db || typeof db.transaction !== "function") {
      throw new TenantConfigError("better-tenant: drizzleDatabase(db) needs a Drizzle PostgreSQL database (with .transaction)");
    }
    if (options.prepare !== undefined && typeof options.prepare !== "boolean") {
      throw new TenantConfigError(`better-tenant: drizzleDatabase: \`prepare\` must be true or false, got ${JSON.stringify(options.prepare)}`);
    }
    const table = options.table ?? tenantsTable;
    hearConnectionErrors(db, "better-tenant");
    const postgresJs = isPostgresJs(db);
    const portable = <T>(tenantId: string | null, options: ScopeOptions | undefined, cb: (tx: TTx) => Promise<T>): Promise<T> => {
      const work = async (tx: TTx) => {
        await applyScope(async (q, params) => rowsOf(await tx.execute(bound(q, params))), tenantId, options);
        return cb(tx);
      };
      return postgresJs ? postgresJsTransaction(db, work) : db.transaction(work);
    };
    // node-postgres: scopes on a client of their own (fast.ts), decided once per database.
    const scoped = (fastScope(db, kit.nodePgSession, portable as ScopeRunner, options.prepare !== false) ?? portable) as <T>(
      tenantId: string | null,
      options: ScopeOptions | undefined,
      fn: (tx: TTx) => Promise<T>,
    ) => Promise<T>;
    return {
      adapter: {
        runWithTenant: (id, fn, options?: ScopeOptions) => scoped(id, options, fn),
        runAsSystem: (fn, options?: ScopeOptions) => scoped(null, options, fn),
      },
      getTenantRepository: (tx) => repository(tx as unknown as AnyDb, table),
    };
  }

  return { tenantsTable, tenantId, drizzleDatabase };
}
