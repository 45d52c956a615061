// The bin: loads better.config.* (its `email` and `tenant` sections), then hands argv to the
// native addon, which does the database work, and forwards its output and exit code.
// `--version` and `--help` load neither the addon nor the config. Usage errors exit 2,
// findings and failures 1.
import { readFileSync } from "node:fs";
import { runMain, runTool } from "@usebetter-rs/core/cli";

const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
const TOOL = { tool: "better-email", version: VERSION, loadPlugin: () => import("@usebetterdev/plugin/config"), usageCode: 2 };

/** Runs the CLI in-process and returns `{ code, stdout, stderr }`. */
export function runCli(args, options) {
  return runTool(TOOL, args, options);
}

export function main(argv) {
  return runMain(() => runCli(argv));
}
