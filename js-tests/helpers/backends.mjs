// Loads each compiled backend directly, bypassing the loader, for side-by-side comparison.
import { createRequire } from "node:module";
import { readdirSync } from "node:fs";

const require = createRequire(import.meta.url);
const pkgDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");

export function loadBackend(name) {
  if (name === "wasm") return require(`${pkgDir}wasm/usebetter_wasm.js`);
  // The library's addon (the tools' own, usebetter-cli.*.node, sits next to it).
  const file = readdirSync(`${pkgDir}native`).find((f) => f.startsWith("usebetter.") && f.endsWith(".node"));
  if (!file) throw new Error("native addon not built: run scripts/build.sh");
  return require(`${pkgDir}native/${file}`);
}

/** A call's value as `{ ok }`, or its failure as `{ code, message }`. */
export function outcome(fn) {
  try {
    return { ok: fn() };
  } catch (err) {
    return { code: err.code, message: err.message };
  }
}

/** `same(label, call)`: runs `call` on both backends, asserts identical outcomes, returns them. */
export function sameOnBoth(native, wasm, assertDeepEqual) {
  return (label, call) => {
    const a = outcome(() => call(native));
    assertDeepEqual(outcome(() => call(wasm)), a, label);
    return a;
  };
}
