"use strict";
// The keys through which @usebetterdev/tenant, @usebetterdev/audit and the products that write
// audit entries (webhooks, email) find each other's state:
// global symbols, so every copy of either package (ESM or CommonJS entry, two installed
// versions) reaches the same objects. One place for both packages, with the function both use
// to give their errors a stable code, and the random bytes the products' message ids take.

// Message ids take 10 random bytes each, drawn from the runtime's CSPRNG 4 KiB at a time: one
// `getRandomValues` call per send cost more than the rest of the id (35 µs of an email send()
// between two database round trips, against about 1 µs for a copy out of the pool). The pool
// is this module's own (each installed copy draws from its own; nothing needs them shared).
const POOL = 4096;
let pool = new Uint8Array(0);
let used = 0;

/** `n` random bytes from the runtime's CSPRNG (`crypto.getRandomValues`, Node ≥ 20 and edge). */
function randomBytes(n) {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

module.exports = {
  /** globalThis[key]: the tenant scope's AsyncLocalStorage (its store holds the tenant id). */
  TENANT_CONTEXT: Symbol.for("usebetterdev.tenant.context"),
  /** A Drizzle database's [key]: audit's wrapper for a transaction that tenant opened itself. */
  WRAP_TRANSACTION: Symbol.for("usebetterdev.audit.wrapTransaction"),
  /** A betterAudit() instance's [key]: writes entries in another library's transaction (webhooks, email). */
  AUDIT_CAPTURE_IN: Symbol.for("usebetterdev.audit.captureIn"),
  /** `err` with a stable `code`; its class stays the one the reference throws. */
  coded(err, code) {
    return Object.assign(err, { code });
  },
  randomBytes,
  /**
   * `n` random bytes for ids; each byte is handed out once. A copy, not a view: a view's
   * `buffer` would show the bytes of the next few hundred ids.
   */
  idBytes(n) {
    if (n > POOL) return randomBytes(n);
    if (used + n > pool.length) {
      pool = randomBytes(POOL);
      used = 0;
    }
    used += n;
    return pool.slice(used - n, used);
  },
};
