// withAuditProxy: audited mutations run as one data-modifying statement that also returns the
// stored before and after images (`RETURNING`, before-rows locked `FOR UPDATE`), inside the
// mutation's transaction (or one opened for it), and the audit rows are written in that same
// transaction. Rollback removes both; a failed audit write fails the mutation unless the caller
// chose otherwise with `onError`.
import * as drizzle from "drizzle-orm";
import { getTableColumns, getTableName, is, sql, SQL, Table, type Column } from "drizzle-orm";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { withWriteHandle } from "../write-context";
import { AuditConfigError } from "../enrich";
import core from "@usebetter-rs/core";
import { hearConnectionErrors } from "@usebetter-rs/core/connections";
import { rawWriteGuard } from "./raw";
import { imageKeys, imageOf, primaryKey, recordIdOf, type ImageKeys } from "./rows";
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
type Builder = {
  config: Record<string, unknown> & { table: PgTable; where?: SQL; returning?: unknown[]; onConflict?: unknown };
  dialect: { buildUpdateSet(table: PgTable, set: unknown): SQL; buildUpdateQuery(c: object): SQL; buildDeleteQuery(c: object): SQL; buildInsertQuery(c: object): { sql: SQL } | SQL; buildSelection(f: unknown, o: object): SQL; sqlToQuery(s: SQL): { sql: string; params: unknown[] } };
  joinsNotNullableMap?: Record<string, boolean>;
};
type Session = { prepareQuery(q: object, f: unknown, n: unknown, arr: boolean, mapper: (rows: unknown[][]) => unknown): { execute(): Promise<unknown> } };
type Db = { session: Session; transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>; execute(q: SQL): Promise<unknown> } & Record<string, unknown>;

// Exported by drizzle-orm at run time but not in its type declarations.
const internals = drizzle as unknown as {
  mapResultRow(fields: unknown, row: unknown[], joinsNotNullableMap: unknown): unknown;
  orderSelectedFields(fields: Record<string, unknown>): unknown[];
};
const { mapResultRow, orderSelectedFields } = internals;

const MUTATIONS: Record<string, AuditOperation> = { insert: "INSERT", update: "UPDATE", delete: "DELETE" };

/**
 * The single statement for one audited mutation, plus how to read its rows. Images keep the
 * table's column order (core audit::image), so diffs list fields in column order.
 */
function statement(b: Builder, op: AuditOperation, pk: Column[], keys: ImageKeys) {
  const { table, where } = b.config;
  const name = getTableName(table);
  const schema = getTableConfig(table).schema;
  const ref = schema ? sql`${sql.identifier(schema)}.${sql.identifier(name)}` : sql.identifier(name);
  const rowImage = imageOf(table, b.dialect, keys);
  const image = sql`${rowImage}`.as("__audit_image");
  const fields: Record<string, unknown> = { ...getTableColumns(table), __audit_image: image };
  if (op === "INSERT" && b.config.onConflict !== undefined) fields.__audit_inserted = sql`(xmax = 0)`.as("__audit_inserted");
  const returning = orderSelectedFields(fields);
  const user = b.config.returning ? sql`${b.dialect.buildSelection(b.config.returning, { isSingleTable: true })}, ` : sql``;
  const whereSql = where ? sql` where ${where}` : sql``;
  let body: SQL;
  let before = sql`null`;
  if (op === "UPDATE") {
    if (b.config.from || (b.config.joins as unknown[] | undefined)?.length) {
      throw new Error("audit: audited updates with .from() or joins are not supported; use trigger capture for them");
    }
    // The old rows are locked by the subquery before the UPDATE touches them, so the before
    // image is exactly the version that was replaced, even under concurrent writers. The
    // subquery exposes only its own column names, so an unqualified column in the caller's
    // SET expressions still means the target row's.
    const key = (i: number) => sql.identifier(`__audit_k${i}`);
    const keys = sql.join(pk.map((c, i) => sql`${ref}.${sql.identifier(c.name)} as ${key(i)}`), sql`, `);
    const match = sql.join(pk.map((c, i) => sql`${ref}.${sql.identifier(c.name)} = "__audit_old".${key(i)}`), sql` and `);
    const set = b.dialect.buildUpdateSet(table, b.config.set);
    body = sql`with "__audit_rows" as (update ${ref} set ${set} from (select ${keys}, ${rowImage} as "__audit_before" from ${ref}${whereSql} for update) as "__audit_old" where ${match} returning ${ref}.*, ${rowImage} as "__audit_image", "__audit_old"."__audit_before")`;
    before = sql`"__audit_before"`;
  } else if (op === "DELETE") {
    body = sql`with "__audit_rows" as (${b.dialect.buildDeleteQuery({ ...b.config, returning })})`;
  } else {
    const built = b.dialect.buildInsertQuery({ ...b.config, returning });
    body = sql`with "__audit_rows" as (${is(built, SQL) ? built : (built as { sql: SQL }).sql})`;
  }
  const inserted = fields.__audit_inserted ? sql`, "__audit_inserted"` : sql``;
  return {
    query: sql`${body} select ${user}${before}, "__audit_image"${inserted} from "__audit_rows" as ${sql.identifier(name)}`,
    width: b.config.returning ? b.config.returning.length : 0,
    body,
    user,
    name,
    upsert: fields.__audit_inserted !== undefined,
  };
}

/** The audit row as SQL over the returned row `r`: images, the diff, the record id, and the context values as parameters. */
function inlineInsert(op: AuditOperation, pk: Column[], st: { name: string; upsert: boolean }, plan: Extract<InlinePlan, { kind: "inline" }>, tenant: boolean, skipBefore: boolean) {
  const tableName = st.name;
  const v = plan.values;
  const col = (c: Column) => sql`r.${sql.identifier(c.name)}::text`;
  const recordId = pk.length === 1 ? col(pk[0]!) : sql`to_json(array[${sql.join(pk.map(col), sql`, `)}])::text`;
  const image = sql`r."__audit_image"::jsonb`;
  const operation = st.upsert ? sql`case when r."__audit_inserted" then 'INSERT' else 'UPDATE' end` : sql`${op}`;
  const before = skipBefore ? sql`null::jsonb` : op === "UPDATE" ? sql`r."__audit_before"::jsonb` : op === "DELETE" ? image : sql`null::jsonb`;
  const after = op === "DELETE" ? sql`null::jsonb` : image;
  // Which fields changed: the core's SQL diff, the same decision as the pipeline's Rust diff.
  const diff = op === "UPDATE" ? sql.raw(core.auditDiffSql(skipBefore ? "'{}'::json" : `r."__audit_before"::json`, `r."__audit_image"::json`)) : sql`null::jsonb`;
  // A table made for the reference has no tenant_id until `better-audit migrate` adds it.
  const tenantColumn = tenant ? sql`, tenant_id` : sql``;
  const tenantValue = tenant ? sql`, ${v.tenant_id}::uuid` : sql``;
  return sql`, "__audit_log" as (insert into ${sql.identifier(plan.table)}
      (id, "timestamp", table_name, operation, record_id, actor_id, before_data, after_data, diff, label, reason, compliance, metadata${tenantColumn})
      select gen_random_uuid(), clock_timestamp(), ${tableName}, ${operation}, ${recordId}, ${v.actor_id}, ${before}, ${after}, ${diff},
             ${v.label}, ${v.reason}, ${v.compliance}::jsonb, ${v.metadata}::jsonb${tenantValue}
      from "__audit_rows" as r)`;
}

/**
 * A name per distinct statement text, so each connection parses and plans a capturing
 * statement once: planning the CTE costs more than running it.
 */
function statementName(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `usebetter_audit_${h.toString(16)}_${text.length}`;
}

/** Mutation and audit rows in one statement; needs no transaction of its own. */
async function captureInline(b: Builder, op: AuditOperation, handle: Db, plan: Extract<InlinePlan, { kind: "inline" }>, options: AuditProxyOptions) {
  const { tenant } = await plan.shape(async (text, params) => rowsOf(await handle.execute(bind(text, params))));
  const pk = primaryKey(b.config.table, options.primaryKey);
  const st = statement(b, op, pk, options.imageKeys ?? "property");
  const skip = skipsBefore(options, st.name);
  const query = b.dialect.sqlToQuery(sql`${st.body}${inlineInsert(op, pk, st, plan, tenant, skip)} select ${st.user}1 from "__audit_rows" as ${sql.identifier(st.name)}`);
  const rows = (await handle.session.prepareQuery(query, undefined, statementName(query.sql), true, (r) => r).execute()) as unknown[][];
  if (!b.config.returning) return { command: op, rowCount: rows.length, rows: [], fields: [] };
  return rows.map((row) => mapResultRow(b.config.returning as never, row.slice(0, st.width), b.joinsNotNullableMap));
}

async function capture(b: Builder, op: AuditOperation, tx: Db, captureLog: Capture, options: AuditProxyOptions) {
  const pk = primaryKey(b.config.table, options.primaryKey);
  const keys = options.imageKeys ?? "property";
  const { query, width } = statement(b, op, pk, keys);
  const q = b.dialect.sqlToQuery(query);
  const rows = (await tx.session.prepareQuery(q, undefined, statementName(q.sql), true, (r) => r).execute()) as unknown[][];
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
export const WRAP_TRANSACTION = Symbol.for("usebetterdev.audit.wrapTransaction");

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
