// The bin: loads the config, asks init's questions on a terminal, then hands argv to the
// native addon and forwards its output and exit code. `--version` and `--help` load neither
// the addon nor the config; the rest is imported only by the commands that use it.
import { readFileSync } from "node:fs";
import { optionValue, runMain, runTool } from "@usebetter-rs/core/cli";

const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

async function askInitQuestions(args) {
  const interactive = !args.includes("-n") && !args.includes("--non-interactive") && process.stdin.isTTY;
  if (!interactive) return args;
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, terminal: false });
  // The iterator buffers lines, so answers typed (or pasted) ahead of a prompt are kept.
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (prompt) => {
    process.stdout.write(prompt);
    const { value, done } = await lines.next();
    if (done) throw Object.assign(new Error("init: aborted (no answer)"), { code: "CLI_USAGE" });
    return value.trim();
  };
  try {
    const out = [...args, "-n"];
    if (optionValue(args, "--tables") === undefined) out.push("--tables", await ask("Tenant tables (comma-separated): "));
    if (optionValue(args, "--orm") === undefined) out.push("--orm", await ask("ORM (drizzle or prisma): "));
    return out;
  } finally {
    rl.close();
  }
}

// Help and version are printed without reading the config, so a broken config cannot hide them.
const printsHelpOrVersion = (args) =>
  args.length === 0 || ["-V", "--version", "help"].includes(args[0]) || args.includes("-h") || args.includes("--help");

// init writes the config and seed needs none: a broken config file must not block them.
const TOOL = {
  tool: "better-tenant",
  version: VERSION,
  loadPlugin: () => import("@usebetterdev/plugin/config"),
  needsConfig: (args) => args[0] !== "init" && args[0] !== "seed" && !printsHelpOrVersion(args),
};

/** Runs the CLI in-process and returns `{ code, stdout, stderr }` (used by the programmatic API). */
export function runCli(args, options) {
  return runTool(TOOL, args, options);
}

export function main(argv) {
  return runMain(async () => runCli(argv[0] === "init" ? await askInitQuestions(argv) : argv));
}
