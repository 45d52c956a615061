// suite: pgbouncer (scripts/test.sh runs it again through PgBouncer in transaction mode)
// The generated migration applied to a real PostgreSQL 15: isolation, fail-closed defaults,
// idempotence, upgrade from the reference's policies, index use, and hardened mode.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import core from "@usebetter-rs/core";
import { admin, connectAs, fixture, freshDatabase, inScope } from "./helpers/db.mjs";

const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "bbbbbbbb-0000-4000-8000-000000000002";
const migration = core.generateMigrationSql({ tenantTables: ["projects", "tasks"] });

async function seed(client) {
  await inScope(client, { "app.bypass_rls": "true" }, async () => {
    await client.query("INSERT INTO tenants (id, name, slug) VALUES ($1, 'A', 'a'), ($2, 'B', 'b')", [A, B]);
    await client.query("INSERT INTO projects (tenant_id, name) VALUES ($1, 'a1'), ($1, 'a2'), ($2, 'b1')", [A, B]);
    await client.query("INSERT INTO tasks (tenant_id, project_id, title) VALUES ($1, 1, 't-a'), ($2, 3, 't-b')", [A, B]);
    await client.query("COMMIT"); // keep the seed; inScope's ROLLBACK is then a no-op warning-free
  });
}

let db;
let app;

before(async () => {
  db = await freshDatabase("rls");
  app = await connectAs("app", "app", db.name);
  await app.query(fixture("schema.sql"));
  await app.query(migration);
  await seed(app);
});

after(async () => {
  await app?.end();
  await db?.drop();
});

test("the test role is neither superuser nor BYPASSRLS", async () => {
  const { rows } = await app.query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user");
  assert.deepEqual(rows[0], { rolsuper: false, rolbypassrls: false });
});

test("tenant A sees only its rows, in every tenant table and in tenants", async () => {
  await inScope(app, { "app.current_tenant": A }, async () => {
    const projects = await app.query("SELECT name, tenant_id FROM projects ORDER BY name");
    assert.deepEqual(projects.rows, [{ name: "a1", tenant_id: A }, { name: "a2", tenant_id: A }]);
    const tasks = await app.query("SELECT title FROM tasks");
    assert.deepEqual(tasks.rows, [{ title: "t-a" }]);
    const tenants = await app.query("SELECT slug FROM tenants");
    assert.deepEqual(tenants.rows, [{ slug: "a" }]);
  });
});

test("tenant A cannot update, delete or insert B's rows", async () => {
  await inScope(app, { "app.current_tenant": A }, async () => {
    assert.equal((await app.query("UPDATE projects SET name = 'x' WHERE tenant_id = $1", [B])).rowCount, 0);
    assert.equal((await app.query("DELETE FROM projects WHERE tenant_id = $1", [B])).rowCount, 0);
    await app.query("SAVEPOINT s");
    await assert.rejects(app.query("INSERT INTO projects (tenant_id, name) VALUES ($1, 'evil')", [B]), { code: "42501" });
    await app.query("ROLLBACK TO SAVEPOINT s");
    await assert.rejects(app.query("UPDATE projects SET tenant_id = $1 WHERE name = 'a1'", [B]), { code: "42501" });
  });
  await inScope(app, { "app.current_tenant": B }, async () => {
    const { rows } = await app.query("SELECT name FROM projects");
    assert.deepEqual(rows, [{ name: "b1" }]);
  });
});

test("inserts without tenant_id are stamped with the current tenant", async () => {
  await inScope(app, { "app.current_tenant": A }, async () => {
    const { rows } = await app.query("INSERT INTO projects (name) VALUES ('stamped') RETURNING tenant_id");
    assert.equal(rows[0].tenant_id, A);
  });
});

test("no context sees nothing and cannot write", async () => {
  await inScope(app, {}, async () => {
    for (const t of ["projects", "tasks", "tenants"]) {
      const { rows } = await app.query(`SELECT count(*)::int AS n FROM ${t}`);
      assert.equal(rows[0].n, 0, t);
    }
    // The trigger leaves tenant_id NULL, so the policy refuses the row (not a uuid cast error).
    await assert.rejects(app.query("INSERT INTO projects (name) VALUES ('orphan')"), { code: "42501" });
  });
  await inScope(app, { "app.current_tenant": "" }, async () => {
    const { rows } = await app.query("SELECT count(*)::int AS n FROM projects");
    assert.equal(rows[0].n, 0);
  });
});

test("a non-UUID tenant setting is an error, never a match", async () => {
  await inScope(app, { "app.current_tenant": "a" }, async () => {
    await assert.rejects(app.query("SELECT * FROM projects"), { code: "22P02" });
  });
});

test("the bypass sees everything", async () => {
  await inScope(app, { "app.bypass_rls": "true" }, async () => {
    const { rows } = await app.query("SELECT count(*)::int AS n FROM projects");
    assert.ok(rows[0].n >= 3);
  });
});

test("re-running the migration changes nothing", async () => {
  await app.query(migration);
  const { rows } = await app.query(
    "SELECT tablename, count(*)::int AS n FROM pg_policies WHERE schemaname = 'public' GROUP BY tablename ORDER BY tablename",
  );
  assert.deepEqual(rows, [
    { tablename: "projects", n: 1 },
    { tablename: "tasks", n: 1 },
    { tablename: "tenants", n: 2 },
  ]);
});

test("a database migrated by the reference upgrades in place", async () => {
  const up = await freshDatabase("upgrade");
  const c = await connectAs("app", "app", up.name);
  try {
    await c.query(fixture("schema.sql"));
    await c.query(fixture("reference-migration.sql"));
    await c.query(migration);
    const { rows } = await c.query("SELECT tablename, policyname, qual FROM pg_policies WHERE tablename IN ('projects', 'tasks') ORDER BY 1");
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.policyname, `rls_tenant_${r.tablename}`);
      assert.match(r.qual, /tenant_id >= \(\s*SELECT\s+CASE\s+WHEN/);
      assert.doesNotMatch(r.qual, /\(tenant_id\)::text/, "the column is not compared as text");
    }
    await seed(c);
    await inScope(c, { "app.current_tenant": B }, async () => {
      assert.deepEqual((await c.query("SELECT name FROM projects")).rows, [{ name: "b1" }]);
    });
  } finally {
    await c.end();
    await up.drop();
  }
});

async function bulkLoad(c) {
  await inScope(c, { "app.bypass_rls": "true" }, async () => {
    await c.query(`INSERT INTO tenants (id, name, slug)
      SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 't' || i, 't' || i FROM generate_series(1, 1000) i`);
    await c.query(`INSERT INTO projects (tenant_id, name)
      SELECT ('00000000-0000-4000-8000-' || lpad((1 + i % 1000)::text, 12, '0'))::uuid, 'p' || i FROM generate_series(1, 100000) i`);
    await c.query("COMMIT");
  });
  await c.query("ANALYZE tenants");
  await c.query("ANALYZE projects");
}

async function planFor(c, tenant) {
  return inScope(c, { "app.current_tenant": tenant }, async () => {
    const { rows } = await c.query("EXPLAIN (FORMAT JSON) SELECT * FROM projects");
    const count = await c.query("SELECT count(*)::int AS n FROM projects");
    return { plan: JSON.stringify(rows[0]["QUERY PLAN"]), n: count.rows[0].n };
  });
}

test("SELECT under a tenant uses the tenant_id index on 100k rows over 1,000 tenants", async () => {
  const big = await freshDatabase("explain");
  const c = await connectAs("app", "app", big.name);
  try {
    await c.query(fixture("schema.sql"));
    await c.query(migration);
    await bulkLoad(c);
    const { plan, n } = await planFor(c, "00000000-0000-4000-8000-000000000007");
    assert.equal(n, 100);
    assert.match(plan, /"Index Name":"projects_tenant_id_idx"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    // The reference's text-comparison policy on the same data and the same index scans it all.
    await c.query(fixture("reference-migration.sql"));
    const ref = await planFor(c, "00000000-0000-4000-8000-000000000007");
    assert.equal(ref.n, 100);
    assert.match(ref.plan, /"Node Type":"Seq Scan"/);
  } finally {
    await c.end();
    await big.drop();
  }
});

test("hardened mode: only signed settings count, and the key is out of the app's reach", async () => {
  const key = randomBytes(32);
  const sig = (msg) => createHmac("sha256", key).update(msg).digest("hex");
  // Signatures name the transaction: `<pid>:<start>` as the database computes it.
  const binding = async (c) => (await c.query(core.scopeBindingSql())).rows[0].binding;
  const a = await admin();
  await a.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rls_owner') THEN
      CREATE ROLE rls_owner LOGIN PASSWORD 'owner' NOSUPERUSER NOBYPASSRLS;
    END IF; END $$`);
  await a.end();
  const h = await freshDatabase("hardened", "rls_owner");
  const owner = await connectAs("rls_owner", "owner", h.name);
  const appc = await connectAs("app", "app", h.name);
  try {
    await owner.query(fixture("schema.sql"));
    await owner.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"], hardened: true }));
    await owner.query("INSERT INTO better_tenant_private.context_key (key) VALUES ($1)", [key]);
    await owner.query("GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, projects, tasks TO app");
    await owner.query("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app");
    const signedBypass = async () => {
      const b = await binding(appc);
      for (const [k, v] of [["app.bypass_rls", "true"], ["app.bypass_sig", sig(`bypass:${b}`)]]) {
        await appc.query("SELECT set_config($1, $2, true)", [k, v]);
      }
    };
    const signedTenant = async (id) => {
      const b = await binding(appc);
      await appc.query("SELECT set_config('app.current_tenant', $1, true), set_config('app.tenant_sig', $2, true)", [id, sig(`tenant:${id}:${b}`)]);
    };
    await inScope(appc, {}, async () => {
      await signedBypass();
      await appc.query("INSERT INTO tenants (id, name, slug) VALUES ($1, 'A', 'a'), ($2, 'B', 'b')", [A, B]);
      await appc.query("INSERT INTO projects (tenant_id, name) VALUES ($1, 'a1'), ($2, 'b1')", [A, B]);
      await appc.query("COMMIT");
    });
    const names = async () => (await appc.query("SELECT name FROM projects ORDER BY name")).rows.map((r) => r.name);
    await inScope(appc, {}, async () => {
      await signedTenant(A);
      assert.deepEqual(await names(), ["a1"]);
      const b = await binding(appc);
      // SQL injected into A's scope switches tenant or sets the bypass without a signature.
      await appc.query("SELECT set_config('app.current_tenant', $1, true)", [B]);
      assert.deepEqual(await names(), []);
      await appc.query("SELECT set_config('app.bypass_rls', 'true', true)");
      assert.deepEqual(await names(), []);
      await appc.query("SELECT set_config('app.tenant_sig', $1, true)", [sig(`tenant:${A}:${b}`)]);
      assert.deepEqual(await names(), [], "A's signature does not unlock B");
      // A signature without the transaction binding (the old format) counts for nothing.
      await appc.query("SELECT set_config('app.current_tenant', $1, true), set_config('app.tenant_sig', $2, true)", [A, sig(`tenant:${A}`)]);
      assert.deepEqual(await names(), []);
    });
    await inScope(appc, { "app.current_tenant": B, "app.tenant_sig": "00".repeat(32) }, async () => {
      assert.deepEqual(await names(), []);
    });
    await inScope(appc, {}, async () => {
      await signedBypass();
      assert.deepEqual(await names(), ["a1", "b1"]);
    });
    await assert.rejects(appc.query("SELECT key FROM better_tenant_private.context_key"), { code: "42501" });
  } finally {
    await appc.end();
    await owner.end();
    await h.drop();
  }
});
