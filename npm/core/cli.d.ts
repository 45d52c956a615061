import type { requireNative } from "./index.js";
/** The outcome of a command-line invocation. */
export interface CliAnswer {
  code: number;
  stdout: string;
  stderr: string;
}
/** `--version` and the top-level `--help` of `program`, answered without loading the addon; null for anything else. */
export declare function answerWithoutAddon(program: "better-tenant" | "better-audit", args: readonly string[], version: string): CliAnswer | null;
/** The native binding (loaded on this call), for a tool that needs its PostgreSQL client. */
export declare function nativeFor(tool: string): ReturnType<typeof requireNative>;
