// What a synchronous call throws, as one string to match: `"CODE: message"`, or "no error".
export function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return `${err.code}: ${err.message}`;
  }
  return "no error";
}
