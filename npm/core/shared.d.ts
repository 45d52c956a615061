/** globalThis[key]: the tenant scope's AsyncLocalStorage (its store holds the tenant id). */
export declare const TENANT_CONTEXT: unique symbol;
/** A Drizzle database's [key]: audit's wrapper for a transaction that tenant opened itself. */
export declare const WRAP_TRANSACTION: unique symbol;
