/**
 * Listens for connection errors on the node-postgres pool behind a Drizzle database, so a server
 * restart or a terminated backend fails the queries that used the connection instead of ending the
 * process. Idempotent per pool; does nothing for other drivers. `product` prefixes the one warning.
 */
export declare function hearConnectionErrors(db: unknown, product: string): void;
/** {@link hearConnectionErrors} for a driver handle itself: a node-postgres pool or client, or a postgres.js `sql`. */
export declare function hearDriver(handle: unknown, product: string): void;
/** True for a postgres.js `sql` (a function with `begin` and `reserve`). */
export declare function isPostgresJsSql(sql: unknown): boolean;
/**
 * Keeps a postgres.js pool from fetching array types again once one connection has them: the
 * driver leaves that query's rejection unhandled, so a restart would end the process. Idempotent.
 */
export declare function guardPostgresJs(sql: unknown): void;
/**
 * `begin(work)` (postgres.js `sql.begin`, or a Drizzle `db.transaction` on postgres.js) that never
 * writes COMMIT/ROLLBACK on a connection it has lost; a transaction whose connection closed rejects.
 */
export declare function postgresJsTransaction<Tx, T>(begin: (cb: (tx: Tx) => Promise<T>) => Promise<T>, work: (tx: Tx) => Promise<T>): Promise<T>;
