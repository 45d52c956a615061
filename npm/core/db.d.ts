export type Row = Record<string, unknown>;

/** Runs one statement with parameters. */
export interface Executor {
  query(text: string, values: unknown[]): Promise<Row[]>;
}

/** A JS array as a PostgreSQL array literal (for postgres.js, which cannot send every array type). */
export declare function arrayAsLiteral(v: unknown): unknown;
/** An executor over a node-postgres client/pool or a postgres.js `sql`; anything else throws a `TypeError` with `code`. */
export declare function executorOf(handle: unknown, code?: string): Executor;
/** `fn` in a transaction on a node-postgres pool or a postgres.js `sql`. */
export declare function transactionOn<T>(handle: unknown, fn: (ex: Executor) => Promise<T>, code?: string): Promise<T>;
/** The ambient `@usebetterdev/tenant` scope's transaction object, if any. */
export declare function ambientTransaction(): { database: unknown; tenantId?: string; isSystem?: boolean } | undefined;
/** A column value as JSON: dates as ISO text, bytes as `\x…` text, bigints as text. */
export declare function jsonValue(v: unknown): unknown;
/** Rows with every column passed through {@link jsonValue}. */
export declare function jsonRows(rows: Row[]): Row[];
