// withAuditProxy: audited mutations run as one data-modifying statement that also returns the
// stored before and after images (`RETURNING`, before-rows locked `FOR UPDATE`), inside the
// mutation's transaction (or one opened for it), and the audit rows are written in that same
// transaction. Rollback removes both; a failed audit write fails the mutation unless the caller
// chose otherwise with `onError`.
import { WRAP_TRANSACTION } from "@usebetter-rs/core/shared";
import * as drizzle from "drizzle-orm";
import { getTableName, is, SQL, Table } from "drizzle-orm";
import { withWriteHandle } from "../write-context";
import { AuditConfigError } from "../enrich";
import { hearConnectionErrors } from "@usebetter-rs/core/connections";
import { rawWriteGuard } from "./raw";
import { imageKeys, primaryKey, recordIdOf, type ImageKeys } from "./rows";
import { statement, type Builder } from "./statement";
import { bind, rowsOf } from "./adapter";
import { contextSettings, triggerTables } from "./trigger";
import { INLINE_CAPTURE, type InlinePlan, type InlinePlanner } from "../inline";
import type { AuditOperation, CaptureLogInput } from "../types";

export interface AuditProxyOptions {
  /** The key (property name) that identifies rows of tables without a single-column primary key. */
  primaryKey?: string;
  /** Tables (or `true`: all) whose entries store no before image (and so no diff). */
  skipBeforeState?: string[] | boolean;
  /** Row image field names: Drizzle property names (default, as the reference) or SQL column names. */
  imageKeys?: ImageKeys;
  /** Omitted: a failed capture fails the mutation. "log" or a function: report and keep it. */
  onError?: "log" | ((error: unknown) => void);
}

type Capture = (input: CaptureLogInput) => Promise<void>;
type Session = { prepareQuery(q: object, f: unknown, n: unknown, arr: boolean, mapper: (rows: unknown[][]) => unknown): { execute(): Promise<unknown> } };
type Db = { session: Session; transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>; execute(q: SQL): Promise<unknown> } & Record<string, unknown>;

// Exported by drizzle-orm at run time but not in its type declarations.
const { mapResultRow } = drizzle as unknown as { mapResultRow(fields: unknown, row: unknown[], joinsNotNullableMap: unknown): unknown };

const MUTATIONS: Record<string, AuditOperation> = { insert: "INSERT", update: "UPDATE", delete: "DELETE" };

/** Mutation and audit rows in one statement; needs no transaction of its own. */
async function captureInline(b: Builder, op: AuditOperation, handle: Db, plan: Extract<InlinePlan, { kind: "inline" }>, options: AuditProxyOptions) {
  const { tenant } = await plan.shape(async (text, params) => rowsOf(await handle.execute(bind(text, params))));
  const pk = primaryKey(b.config.table, options.primaryKey);
  const skipBefore = skipsBefore(options, getTableName(b.config.table));
  const query = statement(b, op, pk, options.imageKeys ?? "property", { tenant, skipBefore, values: plan.values });
  const rows = (await handle.session.prepareQuery(query, undefined, query.name, true, (r) => r).execute()) as unknown[][];
  if (!b.config.returning) return { command: op, rowCount: rows.length, rows: [], fields: [] };
  return rows.map((row) => mapResultRow(b.config.returning as never, row.slice(0, b.config.returning!.length), b.joinsNotNullableMap));
}

async function capture(b: Builder, op: AuditOperation, tx: Db, captureLog: Capture, options: AuditProxyOptions) {
  const pk = primaryKey(b.config.table, options.primaryKey);
  const keys = options.imageKeys ?? "property";
  const width = b.config.returning ? b.config.returning.length : 0;
  const q = statement(b, op, pk, keys);
  const rows = (await tx.session.prepareQuery(q, undefined, q.name, true, (r) => r).execute()) as unknown[][];
  const tableName = getTableName(b.config.table);
  const named = imageKeys(b.config.table, keys);
  const skip = skipsBefore(options, tableName);
  const inputs: CaptureLogInput[] = rows.map((row) => {
    const beforeText = row[width] as string | null;
    const image = JSON.parse(row[width + 1] as string) as Record<string, unknown>;
    const inserted = row[width + 2];
    const before = beforeText && !skip ? (JSON.parse(beforeText) as Record<string, unknown>) : undefined;
    const operation: AuditOperation = op === "INSERT" && inserted === false ? "UPDATE" : op;
    const input: CaptureLogInput = { tableName, operation, recordId: recordIdOf(image, pk, named) ?? "unknown" };
    if (op === "DELETE") {
      if (!skip) input.before = image;
    } else {
      input.after = image;
      if (before) input.before = before;
    }
    return input;
  });
  try {
    await withWriteHandle(tx, async () => {
      for (const input of inputs) await captureLog(input);
    });
  } catch (err) {
    if (options.onError === undefined) throw err;
    if (options.onError === "log") console.error(`audit: capture failed for ${tableName} — ${(err as Error)?.message ?? err}`);
    else options.onError(err);
  }
  if (!b.config.returning) return { command: op, rowCount: rows.length, rows: [], fields: [] };
  return rows.map((row) => mapResultRow(b.config.returning as never, row.slice(0, width), b.joinsNotNullableMap));
}

const skipsBefore = (o: AuditProxyOptions, table: string) => o.skipBeforeState === true || (Array.isArray(o.skipBeforeState) && o.skipBeforeState.includes(table));

const isTransaction = (h: object) => h.constructor?.name?.includes("Transaction") ?? false;

/**
 * Lets other libraries that open transactions on this database themselves (the tenant
 * package's one-message scope) hand back an audited handle: `db[WRAP_TRANSACTION](tx)`.
 */
export { WRAP_TRANSACTION };

export function withAuditProxy<TDb extends object>(db: TDb, captureLog: Capture, options: AuditProxyOptions = {}): TDb {
  if (typeof db !== "object" || db === null || typeof (db as { execute?: unknown }).execute !== "function") {
    throw new AuditConfigError(`withAuditProxy: \`db\` must be a Drizzle PostgreSQL database (drizzle(pool)), got ${db === null ? "null" : typeof db}`);
  }
  if (typeof captureLog !== "function") throw new AuditConfigError(`withAuditProxy: \`captureLog\` must be a function (audit.captureLog), got ${typeof captureLog}`);
  if (options.imageKeys !== undefined && options.imageKeys !== "property" && options.imageKeys !== "column") {
    throw new AuditConfigError(`withAuditProxy: \`imageKeys\` must be "property" or "column", got ${JSON.stringify(options.imageKeys)}`);
  }
  const root = db as unknown as Db;
  hearConnectionErrors(db, "better-audit");
  // Set by betterAudit; a plain function (or another library's) always runs the JS pipeline.
  const planner = (captureLog as { [INLINE_CAPTURE]?: InlinePlanner })[INLINE_CAPTURE];
  const guard = rawWriteGuard(planner, options.onError);
  const triggered = triggerTables();
  /** Under trigger capture: the mutation as written, in a transaction that carries the context. */
  const standDown = async (builder: object, handle: Db): Promise<unknown> => {
    const exec = (b: object) => (Reflect.get(b, "execute", b) as () => Promise<unknown>).call(b);
    if (isTransaction(handle)) {
      await handle.execute(contextSettings());
      return exec(builder);
    }
    return root.transaction(async (tx) => {
      await tx.execute(contextSettings());
      // The same query on the transaction's session instead of the pool's (`execute` is an
      // arrow bound to the original builder; `_prepare` reads `this.session`).
      const moved = Object.assign(Object.create(Object.getPrototypeOf(builder) as object) as object, builder, { session: tx.session }) as unknown as { _prepare(): { execute(): Promise<unknown> } };
      return moved._prepare().execute();
    });
  };
  const wrapBuilder = (builder: object, op: AuditOperation, handle: Db): object =>
    new Proxy(builder, {
      get(target, prop, receiver) {
        if (prop === "then" || prop === "execute") {
          const b = target as Builder;
          const run = async (): Promise<unknown> => {
            if ((await triggered(handle)).has(getTableName(b.config.table))) return standDown(target, handle);
            const plan = planner?.(getTableName(b.config.table), op) ?? { kind: "pipeline" };
            if (plan.kind === "skip") return (Reflect.get(target, "execute", target) as () => Promise<unknown>).call(target);
            if (plan.kind === "inline") return captureInline(b, op, handle, plan, options);
            return isTransaction(handle) ? capture(b, op, handle, captureLog, options) : root.transaction((tx) => capture(b, op, tx, captureLog, options));
          };
          if (prop === "execute") return run;
          return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => run().then(onFulfilled, onRejected);
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          const out = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (out === target) return receiver;
          // `insert(t).values()` and `update(t).set()` return the query object proper.
          const isQuery = typeof out === "object" && out !== null && "config" in out && "dialect" in out;
          return isQuery ? wrapBuilder(out, op, handle) : out;
        };
      },
    });
  const wrap = (handle: Db): Db =>
    new Proxy(handle, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof prop === "string" && prop in MUTATIONS && typeof value === "function") {
          return (table: unknown) => {
            const builder = (value as (t: unknown) => object).call(target, table);
            return is(table, Table) ? wrapBuilder(builder, MUTATIONS[prop]!, target) : builder;
          };
        }
        if (prop === WRAP_TRANSACTION) return (tx: Db) => wrap(tx);
        if (prop === "execute" && typeof value === "function") {
          return async (query: unknown, ...rest: unknown[]) => {
            const dialect = (target as { dialect?: Builder["dialect"] }).dialect;
            const text = typeof query === "string" ? query : is(query, SQL) && dialect ? dialect.sqlToQuery(query).sql : "";
            guard(text, await triggered(target));
            return (value as (...a: unknown[]) => unknown).call(target, query, ...rest);
          };
        }
        if (prop === "transaction" && typeof value === "function") {
          return (fn: (tx: Db) => Promise<unknown>, config?: unknown) =>
            (value as (cb: (tx: Db) => Promise<unknown>, c?: unknown) => Promise<unknown>).call(target, (tx: Db) => fn(wrap(tx)), config);
        }
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  return wrap(root) as unknown as TDb;
}
