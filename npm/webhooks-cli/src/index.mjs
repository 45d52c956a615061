// The bin: loads better.config.* (its `webhooks` section), then hands argv to the native addon,
// which does the database work, and forwards its output and exit code. `--version` and
// `--help` load neither the addon nor the config. Usage errors exit 2, findings and failures 1.
import { readFileSync } from "node:fs";
import { runMain, runTool } from "@usebetter-rs/core/cli";

const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
const TOOL = { tool: "better-webhooks", version: VERSION, loadPlugin: () => import("@usebetterdev/plugin/config"), usageCode: 2 };

/** Runs the CLI in-process and returns `{ code, stdout, stderr }`. */
export function runCli(args, options) {
  return runTool(TOOL, args, options);
}

/** The bin: prints the outcome; `worker` and `listen` then run in this process until stopped. */
export async function main(argv) {
  let handoff;
  const code = await runMain(async () => {
    const outcome = await runCli(argv);
    handoff = outcome.handoff;
    return outcome;
  });
  if (handoff?.command === "worker") return (await import("./worker.mjs")).runWorker(handoff);
  if (handoff?.command === "listen") return (await import("./listen.mjs")).runListen(handoff);
  return code;
}
