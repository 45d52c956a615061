// How the package reaches PostgreSQL: an executor runs one statement with parameters; an
// adapter knows the application's base handle, how to open a transaction on it, and how to get
// an executor from a transaction object the application passes (`opts.tx`) or the ambient
// tenant scope holds.
import { TENANT_CONTEXT } from "@usebetter-rs/core/shared";
import { core, jsonRows, type Row } from "./core";
import type { WebhooksStatement } from "@usebetter-rs/core";

export interface Executor {
  query(text: string, values: unknown[]): Promise<Row[]>;
}

/** `Tx`: the application's transaction type, which `opts.tx` then accepts. */
export interface WebhooksDatabase<Tx = unknown> {
  /** Autocommit handle (one statement, atomic with nothing). */
  base(): Executor;
  /** Runs `fn` in a new transaction on its own connection. */
  transaction<T>(fn: (ex: Executor) => Promise<T>): Promise<T>;
  /** The executor of an application transaction object (Drizzle tx, pg client…). */
  fromTx(tx: Tx): Executor;
  /** False when the delivery engine must not run on this adapter (its name says why). */
  engine?: string | undefined;
}

type Queryable = { query(text: string, values?: unknown[]): Promise<{ rows: Row[] }> };
type Poolish = Queryable & { connect(): Promise<Queryable & { release(err?: unknown): void }> };
type PostgresJs = { unsafe(text: string, values?: unknown[]): Promise<Row[]>; begin?: unknown };

/** An executor over a node-postgres client/pool or a postgres.js `sql`. */
export function executorOf(handle: unknown): Executor {
  const h = handle as Partial<Queryable & PostgresJs>;
  if (typeof h.query === "function") {
    const q = h as Queryable;
    return { query: async (text, values) => (await q.query(text, values)).rows };
  }
  if (typeof h.unsafe === "function") {
    const p = h as PostgresJs;
    return { query: async (text, values) => [...(await p.unsafe(text, values.map(arrayAsLiteral) as never[]))] };
  }
  throw Object.assign(new TypeError("expected a node-postgres client or pool, or a postgres.js sql"), {
    code: "WEBHOOKS_INVALID_ARGUMENT",
  });
}

/**
 * A JS array as a PostgreSQL array literal (`{"a","b",NULL}`), as node-postgres sends arrays:
 * postgres.js serialises an array parameter only for element types it knows (not uuid, for
 * one), so the server parses the literal into the parameter's type instead.
 */
export function arrayAsLiteral(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const element = (x: unknown): string => {
    if (x === null || x === undefined) return "NULL";
    if (Array.isArray(x)) return arrayAsLiteral(x) as string;
    const text = x instanceof Date ? x.toISOString() : x instanceof Uint8Array ? `\\x${Array.from(x, (b) => b.toString(16).padStart(2, "0")).join("")}` : String(x);
    return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  };
  return `{${v.map(element).join(",")}}`;
}

/** A transaction on a node-postgres pool or postgres.js `sql`. */
export async function transactionOn<T>(handle: unknown, fn: (ex: Executor) => Promise<T>): Promise<T> {
  const h = handle as Partial<Poolish & { begin(fn: (sql: PostgresJs) => Promise<T>): Promise<T> }>;
  if (typeof h.connect === "function") {
    const client = await (h as Poolish).connect();
    try {
      await client.query("BEGIN");
      const out = await fn(executorOf(client));
      await client.query("COMMIT");
      client.release();
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release(err);
      throw err;
    }
  }
  if (typeof h.begin === "function") return h.begin((sql) => fn(executorOf(sql)));
  throw Object.assign(new TypeError("the database handle cannot open transactions"), { code: "WEBHOOKS_INVALID_ARGUMENT" });
}

/** The ambient `@usebetterdev/tenant` scope's transaction object, if any. */
export function ambientTransaction(): { database: unknown; tenantId?: string; isSystem?: boolean } | undefined {
  const holder = globalThis as { [TENANT_CONTEXT]?: { getStore(): { database?: unknown; tenantId?: string; isSystem?: boolean } | undefined } };
  const ctx = holder[TENANT_CONTEXT]?.getStore();
  return ctx?.database === undefined ? undefined : { database: ctx.database, ...(ctx.tenantId ? { tenantId: ctx.tenantId } : {}), ...(ctx.isSystem ? { isSystem: true } : {}) };
}

/** Runs statement `name` of `statements` with `params`; rows come back as JSON. */
export async function run(ex: Executor, statements: Record<string, WebhooksStatement>, name: string, params: unknown[]): Promise<Row[]> {
  const s = statements[name];
  // The names come from this package and the statements from the same core: a miss is a bug.
  if (!s) throw Object.assign(new Error(`the core has no webhooks statement ${name}`), { code: "INTERNAL" });
  return jsonRows(await ex.query(s.sql, params));
}

/** Opens a system-context transaction (the worker's and operator calls'). */
export async function systemTransaction<T>(db: WebhooksDatabase, settings: string, fn: (ex: Executor) => Promise<T>): Promise<T> {
  return db.transaction(async (ex) => {
    const scope = core.scopeSql(null, null, null);
    await ex.query(scope.sql, scope.params);
    if (settings) await ex.query(settings, []);
    return fn(ex);
  });
}
