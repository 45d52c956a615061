export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
  /** The failure's stable code (e.g. `CLI_USAGE`, `TENANT_EXISTS`) when the command failed with an error. */
  errorCode?: string;
}
/** Runs `better-tenant` in-process. `config` skips loading better.config.* (null = none). */
export declare function runCli(
  args: string[],
  options?: { cwd?: string; env?: Record<string, string | undefined>; config?: unknown },
): Promise<CliOutcome>;
/** The bin's entry: prints the output and resolves to the exit code. */
export declare function main(argv: string[]): Promise<number>;
