export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The failure's stable code (e.g. `WEBHOOKS_SCHEMA_MISSING`, `DB_CONNECT`) when the command failed with an error. */
  errorCode?: string;
  /** `worker` and `listen`: what the bin then runs itself (checked config, database URL and options; or the receiver's port, key and status). */
  handoff?: import("@usebetter-rs/core").CliOutcome["handoff"];
}
/** Runs `better-webhooks` in-process. */
export declare function runCli(args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv; config?: unknown }): Promise<CliResult>;
export declare function main(argv: string[]): Promise<number>;
