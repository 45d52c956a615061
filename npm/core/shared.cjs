"use strict";
// The keys through which @usebetterdev/tenant, @usebetterdev/audit and the products that write
// audit entries (webhooks, email) find each other's state:
// global symbols, so every copy of either package (ESM or CommonJS entry, two installed
// versions) reaches the same objects. One place for both packages, with the function both use
// to give their errors a stable code.
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
};
