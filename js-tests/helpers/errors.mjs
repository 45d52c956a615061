import assert from "node:assert/strict";

// What a synchronous call throws, as one string to match: `"CODE: message"`, or "no error".
export function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return `${err.code}: ${err.message}`;
  }
  return "no error";
}

/** Asserts that `promise` rejects with `code` (and a message matching `pattern`, when given). */
export function rejectsWith(promise, code, pattern) {
  return assert.rejects(promise, (err) => {
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}
