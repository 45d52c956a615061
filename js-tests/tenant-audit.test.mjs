// Tenant scopes and audit capture together: the audit row is written in the tenant's
// transaction, carries its tenant_id, and shares its fate.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { betterAudit } from "@usebetterdev/audit";
import { drizzleAuditAdapter, withAuditProxy } from "@usebetterdev/audit/drizzle";
import { fixture } from "./helpers/db.mjs";
import { projects, tenantDatabase } from "./helpers/app.mjs";

let env;
before(async () => {
  env = await tenantDatabase("tenantaudit", { poolSize: 1 });
  await env.pool.query(fixture("audit-logs.sql"));
});
after(() => env?.close());

test("mutations through tenant.getDatabase() are audited in the tenant's transaction", async () => {
  const audit = betterAudit({ database: drizzleAuditAdapter(env.db), auditTables: ["projects"] });
  const tenant = betterTenant({ database: drizzleDatabase(withAuditProxy(env.db, audit.captureLog)), tenantResolver: { header: "x-tenant-id" } });
  await tenant.runAs("acme", async (db) => {
    const [row] = await db.insert(projects).values({ name: "audited" }).returning();
    await db.update(projects).set({ name: "audited-2" }).where(eq(projects.id, row.id));
  });
  await assert.rejects(
    tenant.runAs("acme", async (db) => {
      await db.insert(projects).values({ name: "rolled-back" });
      throw new Error("boom");
    }),
    /boom/,
  );
  const { rows } = await env.pool.query("SELECT operation, tenant_id, after_data->>'name' AS name, diff FROM audit_logs ORDER BY \"timestamp\"");
  assert.deepEqual(rows.map((r) => [r.operation, r.tenant_id, r.name]), [
    ["INSERT", env.ids.acme, "audited"],
    ["UPDATE", env.ids.acme, "audited-2"],
  ]);
  assert.deepEqual(rows[1].diff.changedFields, ["name"]);
});
