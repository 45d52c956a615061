import type { BetterTenantStaticConfig } from "@usebetterdev/plugin/config";
export declare function generateMigrationSql(config: Pick<BetterTenantStaticConfig, "tenantTables" | "schema">): string;
export declare function generateAddTableSql(tableName: string, options?: { schema?: string }): string;
