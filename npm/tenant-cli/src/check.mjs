import { runCli } from "./index.mjs";

/** Checks a database; resolves to `{ passed, results, warnings, upgrades }`. */
export async function runCheck(databaseUrl, config) {
  const { code, stdout, stderr, errorCode } = await runCli(["check", "--json", "--database-url", databaseUrl], {
    config: config?.tenant ? config : { tenant: config },
  });
  if (!stdout) throw Object.assign(new Error(stderr.trim() || `check exited with ${code}`), { code: errorCode ?? "INTERNAL" });
  return JSON.parse(stdout);
}
