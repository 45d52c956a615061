// ESM entry: the CommonJS build (one context store and one binding for both module systems),
// made with the app's ESM drizzle-orm, so no second, CommonJS copy of drizzle-orm loads.
import { asc, count, eq, sql } from "drizzle-orm";
import { pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import m from "../dist/drizzle/build.js";

const nodePgSession = () => import("drizzle-orm/node-postgres/session");
export const { drizzleDatabase, tenantsTable, tenantId } = m.build({ asc, count, eq, sql, pgTable, text, timestamp, uuid, nodePgSession });
