// The bin: loads better.config.* (its `audit` section), then hands argv to the native addon,
// which does the database work, and forwards its output and exit code.
import { readFileSync } from "node:fs";
import core from "@usebetter-rs/core";
import { tryLoadConfig } from "@usebetterdev/plugin/config";

const VERSION = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

function optionValue(args, name) {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i].includes("=") ? args[i].slice(name.length + 1) : args[i + 1];
}

/** Runs the CLI in-process and returns `{ code, stdout, stderr }`. */
export async function runCli(args, { cwd = process.cwd(), env = process.env, config } = {}) {
  let loaded = config;
  if (loaded === undefined) {
    try {
      loaded = await tryLoadConfig(cwd, optionValue(args, "--config"));
    } catch (err) {
      return { code: 1, stdout: "", stderr: `${err.message}\n` };
    }
  }
  return core.requireNative("better-audit").runAuditCli(args, {
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
