/** globalThis[key]: the tenant scope's AsyncLocalStorage (its store holds the tenant id). */
export declare const TENANT_CONTEXT: unique symbol;
/** A Drizzle database's [key]: audit's wrapper for a transaction that tenant opened itself. */
export declare const WRAP_TRANSACTION: unique symbol;
/** A betterAudit() instance's [key]: writes entries in another library's transaction (webhooks, email). */
export declare const AUDIT_CAPTURE_IN: unique symbol;
/**
 * `err` with a stable `code` (the class stays the one the reference throws: `Error`,
 * `TypeError`), so callers tell failures apart without parsing messages.
 */
export declare function coded<E extends Error, C extends string>(err: E, code: C): E & { code: C };
/** `n` random bytes from the runtime's CSPRNG (keys, secrets). */
export declare function randomBytes(n: number): Uint8Array;
/** `n` random bytes for ids (a CSPRNG pool; each byte handed out once, in a buffer of its own). */
export declare function idBytes(n: number): Uint8Array;
