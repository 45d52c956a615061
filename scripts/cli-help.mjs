// Saves the tools' top-level help, as the addon prints it, into npm/core/cli-help.json, so
// `better-tenant --help`, `better-audit --help`, `better-webhooks --help` and `better-email --help` answer without loading the addon
// (npm/core/cli.mjs). Run by scripts/build.sh after the tools' addon is built.
import { writeFileSync } from "node:fs";
import { nativeFor } from "../npm/core/cli.mjs";

const native = nativeFor("scripts/cli-help.mjs");
const ctx = { cwd: process.cwd(), version: "", config: null, databaseUrl: null, hardenedKey: null };
const outcomes = {
  "better-tenant": await native.runTenantCli(["--help"], ctx),
  "better-audit": await native.runAuditCli(["--help"], { ...ctx, sealKey: null }),
  "better-webhooks": await native.runWebhooksCli(["--help"], { ...ctx, secretsKey: null, secretsKeyPrevious: null }),
  "better-email": await native.runEmailCli(["--help"], ctx),
};
const helps = {};
for (const [program, { code, stdout, stderr }] of Object.entries(outcomes)) {
  if (code !== 0 || !stdout.startsWith("Usage: ")) throw new Error(`${program} --help: exit ${code}: ${stderr}${stdout}`);
  helps[program] = stdout;
}
writeFileSync(new URL("../npm/core/cli-help.json", import.meta.url), `${JSON.stringify(helps, null, 2)}\n`);
