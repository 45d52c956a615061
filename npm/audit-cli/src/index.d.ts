export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The failure's stable code (e.g. `AUDIT_TABLE_MISSING`, `DB_CONNECT`) when the command failed with an error. */
  errorCode?: string;
}
/** Runs `better-audit` in-process (the `export` command writes rows to stdout as it goes). */
export declare function runCli(args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv; config?: unknown }): Promise<CliResult>;
export declare function main(argv: string[]): Promise<number>;
