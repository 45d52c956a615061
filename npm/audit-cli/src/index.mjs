// The bin: loads better.config.* (its `audit` section), then hands argv to the native addon,
// which does the database work, and forwards its output and exit code. `--version` and
// `--help` load neither the addon nor the config.
import { readFileSync } from "node:fs";
import { answerWithoutAddon, nativeFor } from "@usebetter-rs/core/cli";

const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

function optionValue(args, name) {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i].includes("=") ? args[i].slice(name.length + 1) : args[i + 1];
}

/** Runs the CLI in-process and returns `{ code, stdout, stderr }`. */
export async function runCli(args, { cwd = process.cwd(), env = process.env, config } = {}) {
  const answer = answerWithoutAddon("better-audit", args, VERSION);
  if (answer) return answer;
  let loaded = config;
  if (loaded === undefined) {
    try {
      const { tryLoadConfig } = await import("@usebetterdev/plugin/config");
      loaded = await tryLoadConfig(cwd, optionValue(args, "--config"));
    } catch (err) {
      return { code: 1, stdout: "", stderr: `${err.message}\n`, errorCode: err.code ?? "INVALID_CONFIG" };
    }
  }
  return nativeFor("better-audit").runAuditCli(args, {
    cwd,
    version: VERSION,
    config: loaded ?? null,
    databaseUrl: env.DATABASE_URL ?? null,
    sealKey: env.AUDIT_SEAL_KEY ?? null,
    hardenedKey: env.BETTER_TENANT_HARDENED_KEY ?? null,
    sslMode: env.PGSSLMODE ?? null,
    sslRootCert: env.PGSSLROOTCERT ?? null,
  });
}

export async function main(argv) {
  try {
    const { code, stdout, stderr } = await runCli(argv);
    process.stdout.write(stdout);
    process.stderr.write(stderr);
    return code;
  } catch (err) {
    process.stderr.write(`${err?.message ?? err}\n`);
    return 1;
  }
}
