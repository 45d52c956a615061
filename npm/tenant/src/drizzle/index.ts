import { asc, count, eq, sql } from "drizzle-orm";
import { pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { build } from "./build";

export type { DrizzleKit, DrizzlePgDatabase, DrizzlePgTransaction } from "./build";

// The node-postgres session module is required on first use: postgres.js apps may lack `pg`.
const api = build({ asc, count, eq, sql, pgTable, text, timestamp, uuid, nodePgSession: async () => require("drizzle-orm/node-postgres/session") });
export const tenantsTable = api.tenantsTable;
export const tenantId = api.tenantId;
export const drizzleDatabase = api.drizzleDatabase;
