// Seal-key checks shared by the adapter tests: the refusal every adapter gives, and a scope
// in which AUDIT_SEAL_KEY is unset (restored afterwards).
import assert from "node:assert/strict";

/** Asserts that `make()` refuses the seal key with an AuditConfigError naming the fix. */
export function assertSealKeyRefused(make) {
  assert.throws(make, (err) => {
    assert.equal(err.name, "AuditConfigError");
    assert.equal(err.code, "AUDIT_SEAL_KEY");
    assert.match(err.message, /AUDIT_SEAL_KEY/);
    assert.match(err.message, /openssl rand -hex 32/);
    return true;
  });
}

/** Runs `fn` with AUDIT_SEAL_KEY unset. */
export async function withoutSealKey(fn) {
  const saved = process.env.AUDIT_SEAL_KEY;
  delete process.env.AUDIT_SEAL_KEY;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.AUDIT_SEAL_KEY;
    else process.env.AUDIT_SEAL_KEY = saved;
  }
}
