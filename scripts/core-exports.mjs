// The export list of @usebetter-rs/core has one source: the keys of `core` in npm/core/index.d.ts.
// This writes the loader's NAMES (index.cjs) and the ESM entry's named exports (index.mjs) from
// it; with --check it only fails (exit 1) when either file differs, as scripts/test.sh runs it.
import { readFileSync, writeFileSync } from "node:fs";

const dir = new URL("../npm/core/", import.meta.url);
const read = (name) => readFileSync(new URL(name, dir), "utf8");
const dts = read("index.d.ts");
// Products declare their entry points in their own file, re-exported by index.d.ts.
const declared = dts + read("webhooks.d.ts") + read("email.d.ts");
const body = /^declare const core: \{\n([\s\S]*?)\n\};$/m.exec(dts)?.[1];
if (!body) throw new Error("index.d.ts: no `declare const core: { … };` block");
const keys = body.split("\n").map((line) => /^ {2}(\w+):/.exec(line)?.[1]).filter(Boolean);
// The loader's own exports; everything else comes from the binding.
const LOADER = ["backend", "loadAttempts", "requireNative"];
const names = keys.filter((k) => !LOADER.includes(k));
for (const k of names) {
  if (!new RegExp(`^export declare (function|class|const) ${k}\\b`, "m").test(declared)) throw new Error(`index.d.ts: \`${k}\` is in core but not declared`);
}

const wrap = (items, indent, width = 100) => {
  const lines = [];
  let line = indent;
  for (const item of items) {
    if (line.length + item.length + 1 > width && line.trim()) {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${item} `;
  }
  return [...lines, line.trimEnd()].join("\n");
};
const files = {
  "index.cjs": (text) => text.replace(/^const NAMES = \[\n[\s\S]*?\n\];$/m, `const NAMES = [\n${wrap(names.map((n) => `"${n}",`), "  ")}\n];`),
  "index.mjs": (text) => text.replace(/^export const \{\n[\s\S]*?\n\} = core;$/m, `export const {\n${[...LOADER, ...names].map((n) => `  ${n},`).join("\n")}\n} = core;`),
};
let stale = [];
for (const [name, update] of Object.entries(files)) {
  const before = read(name);
  const after = update(before);
  if (after === before) continue;
  if (process.argv.includes("--check")) stale.push(name);
  else writeFileSync(new URL(name, dir), after);
}
if (stale.length) {
  console.error(`npm/core/${stale.join(", npm/core/")}: export list differs from index.d.ts; run \`node scripts/core-exports.mjs\``);
  process.exit(1);
}
