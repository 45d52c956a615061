import core from "@usebetter-rs/core";

/** The RLS migration for a `tenant` config (`{ tenantTables, schema? }`). */
export function generateMigrationSql(config) {
  return core.generateMigrationSql({ tenantTables: config?.tenantTables, schema: config?.schema });
}

/** The RLS block for one table (relies on the functions of a full migration). */
export function generateAddTableSql(tableName, options = {}) {
  return core.generateAddTableSql(tableName, { schema: options.schema });
}
