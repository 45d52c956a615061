// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// Reads alone prepared per connection, behind a pooler in transaction mode: the pooler may run
// each implicit transaction on another server, where the package's named statements do not
// exist. Every read still answers with its tenant's rows (run again in the scope's
// transaction), and the connection then stops preparing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { betterTenant } from "@usebetterdev/tenant";
import { drizzleDatabase } from "@usebetterdev/tenant/drizzle";
import { names, projects, tenantDatabase, watched } from "./helpers/app.mjs";

/** Whether DATABASE_URL leads to scripts/pgbouncer.sh's PgBouncer (1.18: no prepared statements). */
const pooled = Boolean(process.env.PGBOUNCER_PORT) && new URL(process.env.DATABASE_URL).port === process.env.PGBOUNCER_PORT;

let env;
before(async () => {
  env = await tenantDatabase("tpool", { poolSize: 1 });
});
after(() => env?.close());

test("reads answer with their tenant's rows when the pooler hands the connection to another server", async () => {
  const pool = new pg.Pool({ connectionString: env.url, max: 1 });
  const tenant = betterTenant({ database: drizzleDatabase(drizzle(pool)), tenantResolver: { header: "x-tenant-id" }, loadTenant: false });
  const all = (db) => db.select().from(projects).then(names);
  const expected = (id) => (id === env.ids.acme ? ["acme-1", "acme-2"] : ["globex-1"]);
  const holders = [];
  try {
    for (let i = 0; i < 3; i++) assert.deepEqual(await tenant.runAs(env.ids.acme, all), ["acme-1", "acme-2"]);
    // Each holder keeps a transaction open, so a pooler in transaction mode lends it the server
    // that served the reads so far (its most recently used), and the next read goes elsewhere.
    for (let round = 0; round < 3; round++) {
      const holder = new pg.Client({ connectionString: env.url });
      await holder.connect();
      holders.push(holder);
      await holder.query("BEGIN; SELECT 1");
      const { result, texts } = await watched(pool, () => tenant.runAs(env.ids.globex, all));
      assert.deepEqual(result, ["globex-1"], `round ${round}`);
      // Behind the pooler the first read after the first holder lands on another server, which
      // does not know the names: it runs again in the scope's transaction.
      const again = texts.some((t) => /^begin; /.test(t));
      assert.equal(again, pooled && round === 0, texts.join(" | "));
      for (const id of [env.ids.acme, env.ids.globex]) assert.deepEqual(await tenant.runAs(id, all), expected(id), `round ${round}`);
    }
    for (const holder of holders) await holder.query("COMMIT");
    for (let i = 0; i < 6; i++) {
      const id = i % 2 ? env.ids.acme : env.ids.globex;
      assert.deepEqual(await tenant.runAs(id, all), expected(id), `after, ${i}`);
    }
    // Behind the pooler the connection stopped preparing (set-up and read parsed each time);
    // straight to PostgreSQL both stay prepared (only bound).
    const { events } = await watched(pool, () => tenant.runAs(env.ids.acme, all));
    const expectedEvents = pooled ? ["P", "B", "E", "P", "B", "D", "E", "S", "write", "ready"] : ["B", "E", "B", "D", "E", "S", "write", "ready"];
    assert.deepEqual(events, expectedEvents, events.join(" "));
  } finally {
    await Promise.all(holders.map((h) => h.end()));
    await pool.end();
  }
});
