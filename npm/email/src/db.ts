// How the package reaches PostgreSQL: the adapter gives an autocommit executor, opens
// transactions, and turns the application's transaction object (`opts.tx`) into an executor;
// statements come from the core by name.
import { afterFirst, ambientTransaction, jsonRows, type Database, type Executor, type Row } from "@usebetter-rs/core/db";
import core from "@usebetter-rs/core/email-binding";
import { EmailError } from "./errors";

export type { Executor, Row };

/** `Tx`: the application's transaction type, which `opts.tx` then accepts. */
export type EmailDatabase<Tx = unknown> = Database<Tx>;

export type Statements = Record<string, { sql: string }>;

/**
 * Runs statement `name` with `params`; rows come back as JSON (dates as ISO text). `last`: it is
 * its transaction's last statement, so COMMIT can follow it without a round trip of its own
 * (where the executor can).
 */
export async function run(ex: Executor, statements: Statements, name: string, params: unknown[], last = false): Promise<Row[]> {
  const s = statements[name];
  // Names and statements come from the same core: a miss is a bug, not a user error.
  if (!s) throw Object.assign(new Error(`the core has no email statement ${name}`), { code: "INTERNAL" });
  try {
    return jsonRows(await (last && ex.last ? ex.last(s.sql, params) : ex.query(s.sql, params)));
  } catch (err) {
    // undefined_function: a function of this version's schema (e.g. email_enqueue) is missing.
    if ((err as { code?: unknown })?.code === "42883") {
      throw new EmailError("EMAIL_SCHEMA_OUTDATED", `the email tables are older than this version of @usebetterdev/email (${(err as Error).message}): run \`better-email migrate\``, { cause: err });
    }
    throw err;
  }
}

/** A transaction in `tenant`'s scope, or (null) in system context (operators' and the worker's). */
export function scopedTransaction<T>(db: EmailDatabase, tenant: string | null, fn: (ex: Executor) => Promise<T>): Promise<T> {
  return db.transaction((ex) => {
    const scope = core.scopeSql(tenant, null, null);
    return afterFirst(ex, () => ex.query(scope.sql, scope.params), () => fn(ex));
  });
}

/** A system-context transaction (operators' and the worker's). */
export const systemTransaction = <T>(db: EmailDatabase, fn: (ex: Executor) => Promise<T>): Promise<T> => scopedTransaction(db, null, fn);

/** The worker's system-context transaction: the core's `workerScope` opens the system scope
 *  with planner settings for the worker's partial indexes, in one statement. */
export function workerTransaction<T>(db: EmailDatabase, statements: Statements, fn: (ex: Executor) => Promise<T>, scope = "workerScope"): Promise<T> {
  return db.transaction((ex) => afterFirst(ex, () => run(ex, statements, scope, []), () => fn(ex)));
}

export interface CallOptions<Tx = unknown> {
  /** The application's transaction (Drizzle tx, pg client in BEGIN…), or `"autocommit"`. */
  tx?: Tx | "autocommit";
  /** System context only: the tenant the message belongs to. */
  tenantId?: string;
}

/**
 * Runs `fn` on the caller's transaction: `opts.tx`, else the ambient tenant scope's, else
 * `outside` when given, else autocommit when allowed (`{ tx: "autocommit" }` or
 * `requireTransaction: false`).
 */
export async function inCallerTransaction<T>(
  db: EmailDatabase,
  requireTransaction: boolean,
  opts: CallOptions | undefined,
  fn: (ex: Executor, tenant: string | null) => Promise<T>,
  outside?: (fn: (ex: Executor) => Promise<T>) => Promise<T>,
): Promise<T> {
  const ambient = ambientTransaction();
  const tenant = opts?.tenantId ?? null;
  if (tenant !== null && ambient && !ambient.isSystem && ambient.tenantId !== tenant) {
    throw new EmailError("EMAIL_TENANT_MISMATCH", "`tenantId` is only accepted in system context; inside a tenant scope the scope's tenant is used");
  }
  if (opts?.tx !== undefined && opts.tx !== "autocommit") return fn(db.fromTx(opts.tx), tenant);
  if (ambient) return fn(db.fromTx(ambient.database), tenant);
  if (outside) return outside((ex) => fn(ex, tenant));
  if (opts?.tx === "autocommit" || !requireTransaction) return fn(db.base(), tenant);
  throw new EmailError(
    "EMAIL_NO_TRANSACTION",
    "send() needs a transaction: pass `{ tx }` (your Drizzle transaction or client), call it inside a @usebetterdev/tenant scope, or pass `{ tx: \"autocommit\" }` to send on its own",
  );
}
