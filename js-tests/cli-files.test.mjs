// suite: once (scripts/test.sh runs it once; the others run on each backend)
// better-tenant without a database: usage errors, init, config loading, migrate and add-table;
// both tools' --help and --version without the addon, and config files importing the helpers
// from the package root (better-audit's dry run reads the catalog of DATABASE_URL).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import core from "@usebetter-rs/core";
import { nativeFor } from "@usebetter-rs/core/cli";
import { cli, configFile, matchSnapshot, project } from "./helpers/cli.mjs";
import { fixture } from "./helpers/db.mjs";

const noDb = { DATABASE_URL: undefined };

test("version, help and usage errors use commander's wording and exit 1", async () => {
  const dir = project("usage");
  assert.deepEqual(await cli(["-V"], { cwd: dir }), { code: 0, stdout: "0.5.4\n", stderr: "" });
  const help = await cli(["--help"], { cwd: dir });
  assert.equal(help.code, 0);
  for (const c of ["init", "migrate", "add-table", "check", "doctor", "seed"]) assert.match(help.stdout, new RegExp(`\\n  ${c} `));
  const cases = [
    [["frobnicate"], "error: unknown command 'frobnicate'\n"],
    [["migrate", "--nope"], "error: unknown option '--nope'\n"],
    [["seed"], "error: required option '--name <name>' not specified\n"],
    [["migrate", "-o"], "error: option '-o, --output <path>' argument missing\n"],
  ];
  for (const [args, stderr] of cases) {
    assert.deepEqual(await cli(args, { cwd: dir, env: noDb }), { code: 1, stdout: "", stderr }, args.join(" "));
  }
});

test("--help lists commands as commander does; every line of the reference's help is in ours", async () => {
  const dir = project("help");
  const sections = fixture("reference-cli-help.txt").split(/^==> (.*)\n/m).slice(1);
  // Our init neither connects nor detects tables, so two of its descriptions say so instead.
  const ours = {
    "init --help": [
      "  --database-url <url>   Database URL (default: DATABASE_URL env)",
      "  --tables <tables>      Comma-separated table names (skips table detection",
      "                         prompt)",
    ],
  };
  for (let i = 0; i < sections.length; i += 2) {
    const args = sections[i];
    const r = await cli(args.split(" "), { cwd: dir, env: noDb });
    assert.equal(r.code, 0, args);
    const lines = new Set(r.stdout.split("\n"));
    const missing = sections[i + 1].split("\n").filter((line) => !lines.has(line));
    assert.deepEqual(missing, ours[args] ?? [], args);
  }
  const help = await cli(["--help"], { cwd: dir });
  matchSnapshot("tenant-help.txt", help.stdout);
  assert.deepEqual(await cli(["help"], { cwd: dir }), help);
  assert.deepEqual(await cli([], { cwd: dir }), { code: 1, stdout: "", stderr: help.stdout }, "no command: help as an error");
  let all = "";
  for (const c of ["init", "migrate", "add-table", "check", "doctor", "seed"]) {
    const r = await cli([c, "--help"], { cwd: dir, env: noDb });
    assert.equal(r.code, 0, c);
    assert.deepEqual(await cli(["help", c], { cwd: dir, env: noDb }), r, `help ${c}`);
    // Every option is described.
    for (const line of r.stdout.split("Options:\n")[1].trimEnd().split("\n")) assert.match(line, /^  (-\S, )?--\S+( <\S+>)?  +\S|^ {6,}\S/, `${c}: ${line}`);
    all += `$ better-tenant ${c} --help\n${r.stdout}\n`;
  }
  matchSnapshot("tenant-help-commands.txt", all);
});

test("--help and --version work when better.config.* does not load", async () => {
  const dir = project("help-broken", { "better.config.ts": "export default {" });
  assert.deepEqual(await cli(["--version"], { cwd: dir }), { code: 0, stdout: "0.5.4\n", stderr: "" });
  assert.deepEqual(await cli(["-V"], { cwd: dir }), { code: 0, stdout: "0.5.4\n", stderr: "" });
  const help = await cli(["--help"], { cwd: dir });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: @usebetterdev\/tenant-cli \[options\] \[command\]\n/);
  for (const args of [["migrate", "--help"], ["check", "-h"], ["help", "migrate"]]) {
    const r = await cli(args, { cwd: dir });
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: @usebetterdev\/tenant-cli (migrate|check) \[options\]\n/);
  }
  const broken = await cli(["migrate", "--dry-run"], { cwd: dir });
  assert.equal(broken.code, 1, "a command still reports the broken config");
  assert.match(broken.stderr, /^Config error: could not load /);
});

test("--help and --version load neither the addon nor the config, and say what the addon says", async () => {
  // A broken config and a backend override that refuses to load anything: neither may be touched.
  const dir = project("quick", { "better.config.ts": "export default {" });
  const env = { USEBETTER_BINDING: "none" };
  const ctx = { cwd: dir, version: "x", config: null, databaseUrl: null, hardenedKey: null };
  for (const [tool, version, run] of [
    ["better-tenant", "0.5.4", (args) => nativeFor("test").runTenantCli(args, ctx)],
    ["better-audit", "0.8.1", (args) => nativeFor("test").runAuditCli(args, { ...ctx, sealKey: null })],
  ]) {
    const help = (await run(["--help"])).stdout;
    assert.match(help, /^Usage: \S+ \[options\] \[command\]\n/);
    for (const args of [["--help"], ["-h"], ["help"], ["--help", "--nope"]]) {
      assert.deepEqual(await cli(args, { cwd: dir, env, tool }), { code: 0, stdout: help, stderr: "" }, `${tool} ${args.join(" ")}`);
    }
    assert.deepEqual(await cli([], { cwd: dir, env, tool }), { code: 1, stdout: "", stderr: help }, `${tool}: no command is an error`);
    for (const args of [["-V"], ["--version"], ["-V", "migrate"]]) {
      assert.deepEqual(await cli(args, { cwd: dir, env, tool }), { code: 0, stdout: `${version}\n`, stderr: "" }, `${tool} ${args.join(" ")}`);
    }
    // The same environment stops any command that loads them.
    const broken = await cli(["migrate", "--dry-run"], { cwd: dir, env, tool });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /^Config error: could not load /);
    const noAddon = await cli(["migrate", "--dry-run", "--config", "none.json"], { cwd: project("quick-addon", { "none.json": "{}" }), env, tool });
    assert.equal(noAddon.code, 1);
    assert.match(noAddon.stderr, /USEBETTER_BINDING must be "native" or "wasm", got "none"/);
  }
});

test("a config importing defineBetterConfig from the package root works with both tools", async () => {
  const root = `import { defineBetterConfig } from "@usebetterdev/plugin";\n\nexport default defineBetterConfig({\n  tenant: { tenantTables: ["projects", "tasks"] },\n  audit: { auditTables: ["projects"] },\n});\n`;
  const sql = core.generateMigrationSql({ tenantTables: ["projects", "tasks"] });
  // Inside a project that has the package, and in one that does not (the tools provide it).
  const outside = mkdtempSync(join(tmpdir(), "better-config-root-"));
  try {
    for (const dir of [project("cfg-root", { "better.config.ts": root }), outside]) {
      writeFileSync(join(dir, "better.config.ts"), root);
      assert.deepEqual(await cli(["migrate", "--dry-run"], { cwd: dir, env: noDb }), { code: 0, stdout: sql, stderr: "" }, dir);
      // The tenant section reaches better-audit too: audit_logs goes under the tenants' RLS.
      const audit = await cli(["migrate", "--dry-run"], { cwd: dir, tool: "better-audit" });
      assert.equal(audit.code, 0, audit.stderr);
      assert.match(audit.stdout, /ALTER TABLE "public"."audit_chain_checkpoints" FORCE ROW LEVEL SECURITY;/);
    }
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
  // Application code may import it from the root too, as ESM and as CommonJS.
  const here = new URL(".", import.meta.url);
  const esm = execFileSync(process.execPath, ["--input-type=module", "-e", `import { defineBetterConfig } from "@usebetterdev/plugin"; console.log(JSON.stringify(defineBetterConfig({ tenant: { tenantTables: ["a"] } })));`], { cwd: here, encoding: "utf8" });
  assert.equal(esm.trim(), '{"tenant":{"tenantTables":["a"]}}');
  const cjs = execFileSync(process.execPath, ["-e", `console.log(typeof require("@usebetterdev/plugin").defineBetterConfig)`], { cwd: here, encoding: "utf8" });
  assert.equal(cjs.trim(), "function");
});

test("init -n is hardened by default: a key in .env, hardened: true in the config, migrate emits the signed SQL", async () => {
  const dir = project("init-hard");
  writeFileSync(`${dir}/.env`, "DATABASE_URL=postgres://x");
  const r = await cli(["init", "-n", "--tables", "projects,tasks", "--orm", "drizzle"], { cwd: dir, env: noDb });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^✓ Created better\.config\.ts\n✓ Wrote a new BETTER_TENANT_HARDENED_KEY to \.env \(hardened mode: keep it secret, out of git; pass --plain for the unsigned mode\)\n\nNext steps:\n/);
  assert.match(r.stdout, /INSERT INTO better_tenant_private\.context_key \(key\) VALUES \(convert_to\('\$BETTER_TENANT_HARDENED_KEY', 'UTF8'\)\)/);
  assert.match(r.stdout, /hardened: \{ key: process\.env\.BETTER_TENANT_HARDENED_KEY \}/);
  const env = readFileSync(`${dir}/.env`, "utf8");
  assert.match(env, /^DATABASE_URL=postgres:\/\/x\n# Signs the tenant context .*\nBETTER_TENANT_HARDENED_KEY=[0-9a-f]{64}\n$/);
  assert.match(readFileSync(`${dir}/better.config.ts`, "utf8"), /\n    hardened: true,\n/);
  const sql = await cli(["migrate", "--dry-run"], { cwd: dir, env: noDb });
  assert.deepEqual(sql, { code: 0, stdout: core.generateMigrationSql({ tenantTables: ["projects", "tasks"], hardened: true }), stderr: "" });
  const table = await cli(["add-table", "invoices", "--dry-run"], { cwd: dir, env: noDb });
  assert.match(table.stdout, /"better_tenant_current"\(\)/);
  // A second init keeps the key the database already holds.
  const again = await cli(["init", "-n", "--tables", "projects", "--orm", "prisma", "--overwrite"], { cwd: dir, env: noDb });
  assert.match(again.stdout, /✓ Kept the BETTER_TENANT_HARDENED_KEY already in \.env/);
  assert.equal(readFileSync(`${dir}/.env`, "utf8"), env);
  const bad = project("init-bad-hardened", { "better.config.json": JSON.stringify({ tenant: { tenantTables: ["a"], hardened: "yes" } }) });
  assert.deepEqual(await cli(["migrate", "--dry-run"], { cwd: bad, env: noDb }), { code: 1, stdout: "", stderr: 'Config error: "tenant.hardened" must be a boolean\n' });
});

test("init -n --plain writes the reference's config file, no key, and refuses to overwrite", async () => {
  const dir = project("init");
  const r = await cli(["init", "-n", "--plain", "--tables", " projects, ,tasks ", "--orm", "drizzle"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^✓ Created better\.config\.ts\n\nNext steps:\n/);
  assert.equal(existsSync(`${dir}/.env`), false);
  assert.equal(readFileSync(`${dir}/better.config.ts`, "utf8"), configFile(["projects", "tasks"]).replace('["projects","tasks"]', '["projects", "tasks"]'));
  const again = await cli(["init", "-n", "--tables", "x", "--orm", "prisma"], { cwd: dir });
  assert.deepEqual(again, { code: 1, stdout: "", stderr: "better.config.ts already exists. Pass --overwrite to replace it.\n" });
  assert.equal((await cli(["init", "-n", "--tables", "x", "--orm", "prisma", "--overwrite"], { cwd: dir })).code, 0);
  assert.match(readFileSync(`${dir}/better.config.ts`, "utf8"), /tenantTables: \["x"\]/);
  const errors = [
    [["init", "-n", "--orm", "drizzle"], "--tables is required in non-interactive mode\n"],
    [["init", "-n", "--tables", "a"], "--orm is required in non-interactive mode\n"],
    [["init", "-n", "--tables", "a", "--orm", "sequelize"], "--orm must be 'drizzle' or 'prisma'\n"],
    [["init", "-n", "--tables", " , ", "--orm", "drizzle"], "--tables requires at least one table name\n"],
  ];
  for (const [args, stderr] of errors) assert.deepEqual(await cli(args, { cwd: project("init-err") }), { code: 1, stdout: "", stderr });
});

test("config loading: ts, mjs, json, --config, flags, and the reference's error messages", async () => {
  const sql = core.generateMigrationSql({ tenantTables: ["projects", "tasks"] });
  const variants = [
    { "better.config.ts": configFile(["projects", "tasks"]) },
    { "better.config.mjs": `export default { tenant: { tenantTables: ["projects", "tasks"] } };\n` },
    { "better.config.json": JSON.stringify({ tenant: { tenantTables: ["projects", "tasks"] } }) },
  ];
  for (const files of variants) {
    const r = await cli(["migrate", "--dry-run"], { cwd: project("cfg", files), env: noDb });
    assert.deepEqual(r, { code: 0, stdout: sql, stderr: "" }, Object.keys(files)[0]);
  }
  const custom = project("cfg-path");
  mkdirSync(`${custom}/conf`);
  writeFileSync(`${custom}/conf/tenant.config.ts`, configFile(["projects", "tasks"]));
  assert.equal((await cli(["migrate", "--dry-run", "--config", "conf/tenant.config.ts"], { cwd: custom })).stdout, sql);
  const flags = await cli(["migrate", "--dry-run", "--tables", "projects,tasks"], { cwd: project("cfg-flags"), env: noDb });
  assert.equal(flags.stdout, sql);
  const schema = await cli(["migrate", "--dry-run", "--tables", "projects", "--schema", "app"], { cwd: project("cfg-schema") });
  assert.match(schema.stdout, /ON "app"\."projects"/);

  const bad = [
    [`export default {};`, 'Config error: "tenant" section is required'],
    [`export default { tenant: {} };`, 'Config error: "tenant.tenantTables" must be an array'],
    [`export default { tenant: { tenantTables: [] } };`, 'Config error: "tenant.tenantTables" must not be empty'],
    [`export default { tenant: { tenantTables: [""] } };`, 'Config error: "tenant.tenantTables" entries must be non-empty strings'],
  ];
  for (const [text, message] of bad) {
    const r = await cli(["migrate", "--dry-run"], { cwd: project("cfg-bad", { "better.config.mjs": text }), env: noDb });
    assert.deepEqual(r, { code: 1, stdout: "", stderr: `${message}\n` });
  }
  const broken = await cli(["migrate", "--dry-run"], { cwd: project("cfg-syntax", { "better.config.ts": "export default {" }) });
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /^Config error: could not load .*better\.config\.ts: [^\n]+\n$/);
  const none = project("cfg-none");
  const missing = await cli(["migrate", "--dry-run"], { cwd: none, env: noDb });
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, "");
  // The reference's guide, line for line (the snapshot is its output).
  matchSnapshot("tenant-no-config.txt", missing.stderr.replace(`(Looked in: ${none})`, "(Looked in: <cwd>)"));
});

test("migrate writes files, refuses to overwrite without --force, and names them by time", async () => {
  const dir = project("migrate", { "better.config.ts": configFile(["projects"]) });
  // Paths are printed as given, like the reference (`path.join` for directories).
  const first = await cli(["migrate", "-o", "./db/rls.sql"], { cwd: dir });
  assert.deepEqual(first, { code: 0, stdout: "✓ Wrote ./db/rls.sql\n", stderr: "" });
  const sql = readFileSync(`${dir}/db/rls.sql`, "utf8");
  assert.equal(sql, core.generateMigrationSql({ tenantTables: ["projects"] }));
  writeFileSync(`${dir}/db/rls.sql`, "-- edited by hand\n");
  const refused = await cli(["migrate", "-o", "db/rls.sql"], { cwd: dir });
  assert.deepEqual(refused, { code: 1, stdout: "", stderr: "File already exists: db/rls.sql\nUse --force to overwrite.\n" });
  assert.equal(readFileSync(`${dir}/db/rls.sql`, "utf8"), "-- edited by hand\n", "nothing written on refusal");
  const forced = await cli(["migrate", "-o", "db/rls.sql", "--force"], { cwd: dir });
  assert.deepEqual(forced, { code: 0, stdout: "✓ Wrote db/rls.sql\n", stderr: "Warning: overwriting existing file db/rls.sql\n" });
  assert.equal(readFileSync(`${dir}/db/rls.sql`, "utf8"), sql);
  const intoDir = await cli(["migrate", "-o", "./out/"], { cwd: dir });
  assert.match(intoDir.stdout, /^✓ Wrote out\/\d{8}_\d{6}_better_tenant_rls\.sql\n$/);
  const byDefault = await cli(["migrate"], { cwd: dir });
  assert.equal(byDefault.code, 0);
  const [file] = readdirSync(`${dir}/rls`);
  assert.match(file, /^\d{8}_\d{6}_better_tenant_rls\.sql$/);
  assert.equal(byDefault.stdout, `✓ Wrote ${dir}/rls/${file}\n`);
});

test("migrate --hardened and --citus add their SQL", async () => {
  const dir = project("migrate-flags", { "better.config.ts": configFile(["projects"]) });
  const hardened = await cli(["migrate", "--dry-run", "--hardened"], { cwd: dir });
  assert.match(hardened.stdout, /SECURITY DEFINER/);
  assert.match(hardened.stdout, /"better_tenant_private"\.context_key/);
  const citus = await cli(["migrate", "--dry-run", "--citus"], { cwd: dir });
  assert.ok(citus.stdout.indexOf("create_distributed_table('\"public\".\"projects\"', 'tenant_id')") > citus.stdout.lastIndexOf("CREATE POLICY"));
});

test("add-table prints or writes the block for one table", async () => {
  const dir = project("add-table");
  const r = await cli(["add-table", "invoices", "--dry-run"], { cwd: dir, env: noDb });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith("-- Better Tenant: RLS for invoices\n-- Assumes tenants table and tenant_id column exist (managed by your ORM).\n"));
  assert.ok(r.stdout.endsWith(core.generateAddTableSql("invoices", {})));
  assert.equal((await cli(["add-table", "line-items"], { cwd: dir })).code, 0);
  assert.match(readdirSync(`${dir}/rls`)[0], /^\d{8}_\d{6}_rls_line_items\.sql$/);
  const bad = await cli(["add-table", "x".repeat(64), "--dry-run"], { cwd: dir });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /at most 63 bytes/);
  assert.ok(!existsSync(`${dir}/rls/${"x".repeat(64)}`));
});

test("init asks for tables and ORM on a terminal", async () => {
  const dir = project("init-tty");
  // `script` gives the bin a real pseudo-terminal, so it takes the interactive path.
  const { spawnSync } = await import("node:child_process");
  const { createRequire } = await import("node:module");
  const bin = createRequire(import.meta.url).resolve("@usebetterdev/tenant-cli/package.json").replace(/package\.json$/, "bin/cli.mjs");
  const r = spawnSync("script", ["-qec", `${process.execPath} ${bin} init`, "/dev/null"], {
    cwd: dir,
    input: "invoices, line_items\nprisma\n",
    encoding: "utf8",
    timeout: 20000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Tenant tables \(comma-separated\): ORM \(drizzle or prisma\): ✓ Created better\.config\.ts/);
  assert.match(readFileSync(`${dir}/better.config.ts`, "utf8"), /tenantTables: \["invoices", "line_items"\]/);
});
