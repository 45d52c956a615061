import type { BetterConfig } from "@usebetterdev/plugin/config";
export declare const CONFIG_FILE: "better.config.ts";
export declare const NO_CONFIG_MESSAGE_PREFIX: "better-tenant: No config found.";
export declare class ConfigLoadError extends Error {}
export declare function findConfig(cwd?: string): string | undefined;
export declare function loadConfigFile(path: string): Promise<BetterConfig>;
export declare function tryLoadConfig(cwd?: string, explicitPath?: string): Promise<BetterConfig | null>;
export declare function loadConfig(cwd?: string): Promise<BetterConfig>;
export declare function buildNoConfigMessage(cwd: string, suggestedTables?: string[]): string;
