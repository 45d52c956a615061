import m from "../dist/drizzle/index.js";

export const { drizzleDatabase, tenantsTable, tenantId } = m;
