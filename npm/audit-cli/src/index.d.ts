export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs `better-audit` in-process (the `export` command writes rows to stdout as it goes). */
export declare function runCli(args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv; config?: unknown }): Promise<CliResult>;
export declare function main(argv: string[]): Promise<number>;
