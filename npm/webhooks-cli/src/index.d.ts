export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The failure's stable code (e.g. `WEBHOOKS_SCHEMA_MISSING`, `DB_CONNECT`) when the command failed with an error. */
  errorCode?: string;
  /** `worker`: what the bin's delivery engine runs with (the checked config, database URL and options). */
  worker?: { config: Record<string, unknown>; databaseUrl: string; options: { concurrency: number; once: boolean; maxSeconds: number | null; json: boolean } };
}
/** Runs `better-webhooks` in-process. */
export declare function runCli(args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv; config?: unknown }): Promise<CliResult>;
export declare function main(argv: string[]): Promise<number>;
