// Walk-through of the core: resolve tenants from sample requests through the native addon and
// the WebAssembly build, print the RLS migration, apply it to a throwaway PostgreSQL and show
// that each tenant only sees its own rows.
import { createRequire } from "node:module";
import { readFileSync, readdirSync } from "node:fs";
import pg from "pg";

const require = createRequire(import.meta.url);
const pkgDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");
const native = require(`${pkgDir}native/${readdirSync(`${pkgDir}native`).find((f) => f.endsWith(".node"))}`);
const wasm = require(`${pkgDir}wasm/usebetter_wasm.js`);

const config = { header: "x-tenant-id", path: "/t/:tenantId/*", subdomain: true, jwt: { claim: "tenant_id", secret: "demo-secret-demo-secret-demo-secret!" } };
const samples = [
  ["header, upper-case UUID", { headers: { "X-Tenant-ID": "AAAAAAAA-0000-4000-8000-000000000001" } }],
  ["path", { headers: {}, path: "/t/globex/projects" }],
  ["path, other prefix", { headers: {}, path: "/other/globex" }],
  ["subdomain", { headers: {}, host: "acme.example.com:8080" }],
  ["subdomain www", { headers: {}, host: "www.example.com" }],
  ["bad header value", { headers: { "x-tenant-id": "drop table;" } }],
];

console.log("== Tenant resolution (native | wasm)");
for (const [label, req] of samples) {
  const a = native.resolveTenant(req, config);
  const b = wasm.resolveTenant(req, config);
  const show = (r) => (r.value ? `${r.value} via ${r.strategy} (${r.kind})` : `none${r.rejected.length ? ` [${r.rejected.map((x) => x.code).join(",")}]` : ""}`);
  console.log(`  ${label.padEnd(26)} ${show(a).padEnd(52)} | ${JSON.stringify(a) === JSON.stringify(b) ? "same" : `DIFFERENT: ${show(b)}`}`);
}

const sql = native.generateMigrationSql({ tenantTables: ["projects", "tasks"] });
console.log("\n== Generated migration (tenantTables: projects, tasks)\n");
console.log(sql);

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is not set (scripts/demo.sh starts a PostgreSQL cluster)");
const db = new pg.Client({ connectionString: url });
await db.connect();
const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "bbbbbbbb-0000-4000-8000-000000000002";
try {
  await db.query("DROP TABLE IF EXISTS tasks, projects, tenants CASCADE");
  await db.query(readFileSync(new URL("../../js-tests/fixtures/schema.sql", import.meta.url), "utf8"));
  await db.query(sql);
  await db.query("BEGIN");
  await db.query("SELECT set_config('app.bypass_rls', 'true', true)");
  await db.query("INSERT INTO tenants (id, name, slug) VALUES ($1, 'Acme', 'acme'), ($2, 'Globex', 'globex')", [A, B]);
  await db.query("INSERT INTO projects (tenant_id, name) VALUES ($1, 'Rocket'), ($1, 'Anvil'), ($2, 'Hammock')", [A, B]);
  await db.query("COMMIT");

  const as = async (settings, q, params = []) => {
    await db.query("BEGIN");
    try {
      for (const [k, v] of Object.entries(settings)) await db.query("SELECT set_config($1, $2, true)", [k, v]);
      return await db.query(q, params);
    } finally {
      await db.query("ROLLBACK");
    }
  };
  console.log("== Isolation in PostgreSQL (role `app`: not superuser, not BYPASSRLS, table owner under FORCE RLS)");
  for (const [name, id] of [["acme", A], ["globex", B]]) {
    const { rows } = await as({ "app.current_tenant": id }, "SELECT name FROM projects ORDER BY name");
    console.log(`  as ${name.padEnd(7)} SELECT name FROM projects  -> ${rows.map((r) => r.name).join(", ")}`);
  }
  const none = await as({}, "SELECT count(*)::int AS n FROM projects");
  console.log(`  no tenant context          SELECT count(*)            -> ${none.rows[0].n}`);
  const cross = await as({ "app.current_tenant": A }, "UPDATE projects SET name = 'pwned' WHERE tenant_id = $1", [B]);
  console.log(`  as acme, UPDATE globex's rows                         -> ${cross.rowCount} rows changed`);
  try {
    await as({ "app.current_tenant": A }, "INSERT INTO projects (tenant_id, name) VALUES ($1, 'forged')", [B]);
    console.log("  as acme, INSERT into globex -> accepted (unexpected!)");
    process.exitCode = 1;
  } catch (err) {
    console.log(`  as acme, INSERT into globex                            -> refused: ${err.message}`);
  }
} finally {
  await db.end();
}
