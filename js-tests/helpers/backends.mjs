// Loads each compiled backend directly, bypassing the loader, for side-by-side comparison.
import { createRequire } from "node:module";
import { readdirSync } from "node:fs";

const require = createRequire(import.meta.url);
const pkgDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");

export function loadBackend(name) {
  if (name === "wasm") return require(`${pkgDir}wasm/usebetter_wasm.js`);
  const file = readdirSync(`${pkgDir}native`).find((f) => f.endsWith(".node"));
  if (!file) throw new Error("native addon not built: run scripts/build.sh");
  return require(`${pkgDir}native/${file}`);
}
