export interface BetterTenantStaticConfig {
  tenantResolver?: {
    header?: string;
    path?: string | { pattern: string; segmentIndex?: number };
    subdomain?: boolean | { segmentIndex?: number };
    jwt?: string | { claim: string };
  };
  /** Tables with a `tenant_id uuid` column; `"schema.table"` picks a schema per table. */
  tenantTables: string[];
  /** Schema of the tables and of the generated functions. Default `public`. */
  schema?: string;
  /** `migrate` emits the signed (hardened) context functions; `init` sets it unless `--plain`. */
  hardened?: boolean;
  loadTenant?: boolean;
  basePath?: string;
}

export interface BetterConfig {
  tenant?: BetterTenantStaticConfig;
  audit?: Record<string, unknown>;
  /** `@usebetterdev/webhooks`' settings for `better-webhooks` (no functions or adapters; the secrets key comes from BETTER_WEBHOOKS_KEY). */
  webhooks?: Record<string, unknown>;
  console?: Record<string, unknown>;
}

export declare function defineBetterConfig<T extends BetterConfig>(config: T): T;

export declare class ConfigLoadError extends Error {}
/** `better.config.*` of `cwd` (or `configFile`), or null when there is none. */
export declare function loadBetterConfig(options?: { cwd?: string; configFile?: string }): Promise<BetterConfig | null>;
export declare function findConfig(cwd?: string): string | undefined;
export declare function loadConfigFile(path: string): Promise<BetterConfig>;
export declare function tryLoadConfig(cwd?: string, explicitPath?: string): Promise<BetterConfig | null>;
