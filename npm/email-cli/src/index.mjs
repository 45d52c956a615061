// The bin: loads better.config.* (its `email` and `tenant` sections), then hands argv to the
// native addon, which does the database work, and forwards its output and exit code.
// `--version` and `--help` load neither the addon nor the config. Usage errors exit 2,
// findings and failures 1.
import { readFileSync } from "node:fs";
import { optionValue, runMain, runTool } from "@usebetter-rs/core/cli";

const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
const TOOL = { tool: "better-email", version: VERSION, loadPlugin: () => import("@usebetterdev/plugin/config"), usageCode: 2 };

/** A node:dns resolver asking `server` (`--dns-server host:port`), or the system's resolvers. */
async function resolverFor(server) {
  const { Resolver } = await import("node:dns/promises");
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (server !== undefined) resolver.setServers([server]);
  return resolver;
}

/**
 * Runs the CLI in-process and returns `{ code, stdout, stderr }`. A command that needs DNS
 * (`check --dns`, `senders verify`) hands back the names to look up; they are looked up here
 * and the command runs again with the answers, which the core judges.
 */
export async function runCli(args, options) {
  const outcome = await runTool(TOOL, args, options);
  if (outcome.handoff?.command !== "dns") return outcome;
  const server = optionValue(args, "--dns-server");
  let resolver;
  try {
    resolver = await resolverFor(server);
  } catch (err) {
    return { code: 2, stdout: "", stderr: `error: --dns-server ${JSON.stringify(server)}: ${err.message} (an IP address and port, like 127.0.0.1:53)\n`, errorCode: "CLI_USAGE" };
  }
  const { dnsAnswers } = await import("@usebetterdev/email");
  return runTool(TOOL, args, { ...options, dnsAnswers: await dnsAnswers(resolver, outcome.handoff.queries) });
}

/** The config as data: transports and templates are objects with functions, which stay here. */
const asData = (config) => JSON.parse(JSON.stringify(config ?? null, (_, v) => (typeof v === "function" ? undefined : v)));

/** The bin: prints the outcome; `worker` and `preview` then run in this process until stopped. */
export async function main(argv) {
  let handoff;
  let section;
  const code = await runMain(async () => {
    let options;
    if (argv[0] === "worker" || argv[0] === "preview") {
      // The worker needs the section's transports, preview its templates, as they are (objects
      // with functions), not as the addon sees data.
      const { tryLoadConfig } = await import("@usebetterdev/plugin/config");
      const loaded = await tryLoadConfig(process.cwd(), optionValue(argv, "--config"));
      section = loaded?.email;
      options = { config: asData(loaded) };
    }
    const outcome = await runCli(argv, options);
    handoff = outcome.handoff;
    return outcome;
  });
  if (handoff?.command === "worker") return (await import("./worker.mjs")).runWorker({ ...handoff, section });
  if (handoff?.command === "preview") return (await import("./preview.mjs")).runPreview({ ...handoff, section });
  return code;
}
