// A typed app, checked with tsc --strict --exactOptionalPropertyTypes --noUncheckedIndexedAccess:
// the packages hand back the user's own client types, and configuration mistakes fail to compile.
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { pgTable, serial, text } from "drizzle-orm/pg-core";
import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase, tenantId } from "@usebetterdev/tenant/drizzle";
import { prismaDatabase } from "@usebetterdev/tenant/prisma";
import { createHonoMiddleware } from "@usebetterdev/tenant/hono";
import { betterAudit, type AuditLog } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(value: T): T => value;

const projects = pgTable("projects", { id: serial("id").primaryKey(), ...tenantId, name: text("name").notNull() });
const db = drizzle(new pg.Pool());
type DrizzleTx = Parameters<Parameters<typeof db.transaction>[0]>[0];

// Drizzle: the scoped handle is the user's own transaction type.
const tenant = betterTenant({ database: drizzleDatabase(db), tenantResolver: { header: "x-tenant-id", subdomain: true } });
const handle = tenant.getDatabase();
assertType<Equals<typeof handle, DrizzleTx | undefined>>(true);
export async function listProjects(): Promise<{ id: number; name: string }[]> {
  const rows = await tenant.getDatabase()!.select({ id: projects.id, name: projects.name }).from(projects);
  return rows;
}

// Prisma: the scoped handle is the generated client's transaction client.
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgres://localhost/app" }) });
const prismaTenant = betterTenant({ database: prismaDatabase(prisma), tenantResolver: { header: "x-tenant-id" } });
export async function countAccounts(): Promise<number> {
  const tx = prismaTenant.getDatabase();
  return tx ? tx.account.count() : 0;
}

// Audit: query results are typed entries.
const audit = betterAudit({ database: drizzleAuditAdapter(db), auditTables: ["projects"] });
export const audited = withAuditProxy(db, audit.captureLog);
export async function recent(): Promise<AuditLog[]> {
  const page = await audit.query().resource("projects").operation("UPDATE").severity("high").limit(10).list();
  assertType<Equals<typeof page.entries, AuditLog[]>>(true);
  const first = page.entries[0];
  // noUncheckedIndexedAccess: an element may be missing.
  assertType<Equals<typeof first, AuditLog | undefined>>(true);
  return page.entries;
}

// A console registration: what it is handed is typed, endpoints included.
betterAudit({
  database: drizzleAuditAdapter(db),
  auditTables: ["projects"],
  console: {
    registerProduct(product) {
      const paths: string[] = product.endpoints.map((e) => `${e.method} ${e.path} ${e.requiredPermission}`);
      void paths;
    },
  },
});

// Mistakes that must not compile.
// @ts-expect-error: a console is something with registerProduct().
betterAudit({ database: drizzleAuditAdapter(db), auditTables: ["projects"], console: {} });
// @ts-expect-error: `headr` is not a resolver strategy.
betterTenant({ database: drizzleDatabase(db), tenantResolver: { headr: "x-tenant-id" } });
// @ts-expect-error: missingTenantStatus is 401 or 404.
createHonoMiddleware(tenant, { missingTenantStatus: 403 });
// @ts-expect-error: not an audit operation.
audit.query().operation("UPSERT");
// @ts-expect-error: not a severity.
audit.query().severity("urgent");
// @ts-expect-error: auditTables is a list of table names.
betterAudit({ database: drizzleAuditAdapter(db), auditTables: "projects" });
