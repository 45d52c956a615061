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
  loadTenant?: boolean;
  basePath?: string;
}

export interface BetterConfig {
  tenant?: BetterTenantStaticConfig;
  audit?: Record<string, unknown>;
  console?: Record<string, unknown>;
}

export declare function defineBetterConfig<T extends BetterConfig>(config: T): T;
