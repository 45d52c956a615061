export type Row = Record<string, unknown>;

/** Runs one statement with parameters. */
export interface Executor {
  query(text: string, values: unknown[]): Promise<Row[]>;
  /** Statements run in the order submitted, on one connection (a node-postgres client). */
  readonly ordered?: boolean;
  /**
   * A transaction's last statement, with COMMIT sent behind it without waiting (node-postgres
   * transactions opened by the adapter); its rows once both are answered. Absent elsewhere.
   */
  last?(text: string, values: unknown[]): Promise<Row[]>;
}

/** A JS array as a PostgreSQL array literal (for postgres.js, which cannot send every array type). */
export declare function arrayAsLiteral(v: unknown): unknown;
/**
 * An executor over a node-postgres client/pool or a postgres.js `sql`; anything else throws a
 * `TypeError` with `code`. `prepare`: node-postgres statements go as named prepared statements.
 */
export declare function executorOf(handle: unknown, code?: string, prepare?: boolean): Executor;
/**
 * `first()`, then `work()`, on executor `ex`'s transaction: where `ex` keeps statements in order
 * (`ordered`), `work` starts without waiting for `first`'s answer; `first`'s error wins.
 */
export declare function afterFirst<T>(ex: Executor, first: () => Promise<unknown>, work: () => Promise<T>): Promise<T>;
/** `fn` in a transaction on a node-postgres pool or a postgres.js `sql`. */
export declare function transactionOn<T>(handle: unknown, fn: (ex: Executor) => Promise<T>, code?: string, prepare?: boolean): Promise<T>;
/**
 * The adapters' options. `prepare`: send statements as named prepared statements (node-postgres),
 * parsed and planned once per connection. Off by default: PgBouncer in transaction mode needs
 * 1.21+ with `max_prepared_statements` for them.
 */
export interface AdapterOptions {
  prepare?: boolean;
}
/** `Tx`: the application's transaction type, which `fromTx` accepts. */
export interface Database<Tx = unknown> {
  /** Autocommit handle (one statement, atomic with nothing). */
  base(): Executor;
  /** Runs `fn` in a new transaction on its own connection. */
  transaction<T>(fn: (ex: Executor) => Promise<T>): Promise<T>;
  /** The executor of an application transaction object (Drizzle tx, pg client…). */
  fromTx(tx: Tx): Executor;
}
/** The transaction type of a Drizzle database (what its `transaction(cb)` hands `cb`). */
export type DrizzleTransactionOf<D> = D extends { transaction(cb: infer C, ...rest: never[]): unknown } ? (C extends (tx: infer Tx) => unknown ? Tx : unknown) : unknown;
/** An adapter over a node-postgres pool/client or postgres.js `sql`; `toClient` finds the driver client in an application transaction object. */
export declare function databaseAdapter<Tx = unknown>(handle: unknown, code?: string, toClient?: (tx: Tx) => unknown, options?: AdapterOptions): Database<Tx>;
/** The adapter for a Drizzle database; a non-Drizzle value throws a `TypeError` with `code` naming `name(db)`. */
export declare function drizzleAdapter<D>(db: D, code: string, name: string, options?: AdapterOptions): Database<DrizzleTransactionOf<D>>;
/** The ambient `@usebetterdev/tenant` scope's transaction object, if any. */
export declare function ambientTransaction(): { database: unknown; tenantId?: string; isSystem?: boolean } | undefined;
/** A column value as JSON: dates as ISO text, bytes as `\x…` text, bigints as text. */
export declare function jsonValue(v: unknown): unknown;
/** Rows with every column passed through {@link jsonValue}. */
export declare function jsonRows(rows: Row[]): Row[];
