/**
 * Listens for connection errors on the node-postgres pool behind a Drizzle database, so a server
 * restart or a terminated backend fails the queries that used the connection instead of ending the
 * process. Idempotent per pool; does nothing for other drivers. `product` prefixes the one warning.
 */
export declare function hearConnectionErrors(db: unknown, product: string): void;
