// What both command-line tools share. `--version` and the top-level `--help` are answered
// without loading the addon: the help texts are the addon's own output, saved by
// scripts/build.sh into cli-help.json. Every other invocation loads the addon when it runs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let helps;

function savedHelp(program) {
  if (helps === undefined) {
    try {
      helps = JSON.parse(readFileSync(new URL("./cli-help.json", import.meta.url), "utf8"));
    } catch {
      helps = {}; // not built: the addon answers instead
    }
  }
  return helps[program];
}

/** `{ code, stdout, stderr }` for `--version` / `--help` (as the addon parses them), else null. */
export function answerWithoutAddon(program, args, version) {
  const first = args[0];
  if (first === "-V" || first === "--version") return { code: 0, stdout: `${version}\n`, stderr: "" };
  // `help <command>` is the command's own help: the addon answers it.
  if (first === undefined || first === "-h" || first === "--help" || (first === "help" && args.length === 1)) {
    const text = savedHelp(program);
    // No command at all is an error, as commander has it: the help goes to stderr, exit 1.
    if (typeof text === "string") return first === undefined ? { code: 1, stdout: "", stderr: text } : { code: 0, stdout: text, stderr: "" };
  }
  return null;
}

/** The native binding, loaded now, for `tool` (which needs its PostgreSQL client). */
export function nativeFor(tool) {
  return require("./index.cjs").requireNative(tool);
}
