import type { CliContext, CliOutcome } from "./index.js";
/** The outcome of a command-line invocation. */
export interface CliAnswer {
  code: number;
  stdout: string;
  stderr: string;
}
/** `--version` and the top-level `--help` of `program`, answered without loading the addon; null for anything else. */
export declare function answerWithoutAddon(program: "better-tenant" | "better-audit", args: readonly string[], version: string): CliAnswer | null;
/** The command-line tools' addon (@usebetter-rs/cli-<platform>): one entry per tool. */
export interface ToolsAddon {
  runTenantCli(args: string[], context: CliContext & { hardenedKey: string | null }): Promise<CliOutcome>;
  runAuditCli(args: string[], context: CliContext & { sealKey: string | null }): Promise<CliOutcome>;
  /** `secretsKey`: BETTER_WEBHOOKS_KEY, `secretsKeyPrevious`: BETTER_WEBHOOKS_KEY_PREVIOUS. */
  runWebhooksCli(args: string[], context: CliContext & { secretsKey: string | null; secretsKeyPrevious: string | null }): Promise<CliOutcome>;
  runEmailCli(args: string[], context: CliContext): Promise<CliOutcome>;
}
/** The tools' addon, loaded on this call; BINDING_LOAD_FAILED naming the package to install when it is missing. */
export declare function nativeFor(tool: string): ToolsAddon;
/** The value of `--name value` or `--name=value` in `args`, else undefined. */
export declare function optionValue(args: readonly string[], name: string): string | undefined;
/** How one tool runs: its name and version, how to load the config, and which commands read it. */
export interface ToolSpec {
  tool: "better-tenant" | "better-audit";
  version: string;
  /** Imports `@usebetterdev/plugin/config` from the tool's package. */
  loadPlugin: () => Promise<{ tryLoadConfig(cwd: string, path: string | undefined): Promise<unknown> }>;
  /** Whether `args` read better.config.* (default: always). */
  needsConfig?: (args: readonly string[]) => boolean;
}
/**
 * Runs the tool in-process: `--version` and `--help` without the addon, else the config
 * (`config` given skips loading it; null = none) and the addon's run with the environment's
 * DATABASE_URL, BETTER_TENANT_HARDENED_KEY, AUDIT_SEAL_KEY, PGSSLMODE and PGSSLROOTCERT.
 */
export declare function runTool(
  spec: ToolSpec,
  args: string[],
  /** `dnsAnswers`: better-email's lookups of the names a first run handed back (`{ command: "dns", queries }`). */
  options?: { cwd?: string; env?: Record<string, string | undefined>; config?: unknown; dnsAnswers?: Record<string, unknown> },
): Promise<CliOutcome>;
/** A bin's entry: prints what `run` resolves to and resolves to its exit code (1 when it throws). */
export declare function runMain(run: () => Promise<CliAnswer>): Promise<number>;
/** Resolves to why a long-running command should stop: SIGTERM, SIGINT, or `max-seconds` after `maxSeconds`. */
export declare function untilStopped(signals: { once(event: "SIGTERM" | "SIGINT", fn: () => void): unknown }, maxSeconds?: number | null): Promise<"SIGTERM" | "SIGINT" | "max-seconds">;
