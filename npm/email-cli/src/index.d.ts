export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The failure's stable code (e.g. `EMAIL_SCHEMA_MISSING`, `DB_CONNECT`) when the command failed with an error. */
  errorCode?: string;
}
/** Runs `better-email` in-process. */
export declare function runCli(args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv; config?: unknown }): Promise<CliResult>;
export declare function main(argv: string[]): Promise<number>;
