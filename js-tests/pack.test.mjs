// suite: once (scripts/test.sh runs it once; the others run on each backend)
// What a user installs: every package is packed with `npm pack`, the tarballs are installed
// into an empty project (third-party dependencies from the registry) with no Rust toolchain on
// PATH, and a Hono + Drizzle app with tenant isolation and audit capture runs there — on the
// native addon, and again with the addon removed (the WebAssembly fallback, with its warning).
import { test, before, after } from "node:test";
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import core from "@usebetter-rs/core";
import { connectAs, fixture, ownedDatabase, requireEnv } from "./helpers/db.mjs";
import { elfSectionNames } from "./helpers/elf.mjs";

const root = new URL("..", import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), "usebetter-pack-"));
const PACKAGES = ["npm/core", "npm/core-linux-x64-gnu", "npm/cli-linux-x64-gnu", "npm/plugin", "npm/tenant", "npm/audit", "npm/tenant-cli", "npm/audit-cli", "npm/webhooks", "npm/webhooks-cli", "npm/email", "npm/email-cli"];
let dbh;
let ids;
// PATH without any directory that holds cargo or rustc.
const PATH = (process.env.PATH ?? "").split(delimiter).filter((d) => !existsSync(join(d, "cargo")) && !existsSync(join(d, "rustc"))).join(delimiter);

before(async () => {
  // npm/core-linux-x64-gnu's prepack builds the release addon into it (scripts/build.sh
  // --platform-package): what is packed is never the debug build the other tests use.
  for (const p of PACKAGES) execFileSync("npm", ["pack", "--silent", "--pack-destination", project, `./${p}`], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const tarballs = readdirSync(project).filter((f) => f.endsWith(".tgz")).map((f) => `./${f}`);
  assert.equal(tarballs.length, PACKAGES.length);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "packed-app", private: true, type: "module" }));
  const deps = ["drizzle-orm@0.45.4", "pg@8.23.1", "hono@4.13.19", "@hono/node-server@2.1.9"];
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...tarballs, ...deps], {
    cwd: project,
    env: { ...process.env, PATH },
    stdio: ["ignore", "ignore", "inherit"],
  });
  copyFileSync(new URL("./pack/app.mjs", import.meta.url), join(project, "app.mjs"));
  // The tables belong to another role, as `better-tenant check` requires of the app's role.
  dbh = await ownedDatabase("packed", async (owner) => {
    await owner.query(fixture("schema.sql"));
    await owner.query(fixture("audit-logs.sql"));
    await owner.query(core.generateMigrationSql({ tenantTables: ["projects", "tasks"] }));
  });
  // audit_logs under the tenants' row-level security, as the packed `better-audit migrate`
  // applies it (run as the tables' owner), so `better-tenant check` finds nothing to fix.
  writeFileSync(join(project, "better.config.mjs"), `export default ${JSON.stringify({ tenant: { tenantTables: ["projects", "tasks"] }, audit: { auditTables: ["projects"] } })};\n`);
  const ownerUrl = new URL(requireEnv("DATABASE_URL"));
  ownerUrl.username = "rls_owner";
  ownerUrl.password = "owner";
  ownerUrl.pathname = `/${dbh.name}`;
  execFileSync(join(project, "node_modules", ".bin", "better-audit"), ["migrate", "--database-url", ownerUrl.toString()], {
    cwd: project,
    env: { ...process.env, PATH },
    stdio: ["ignore", "ignore", "inherit"],
  });
  // The migration made the checkpoint table; the app role may read it (writing stays the owner's).
  const owner = await connectAs("rls_owner", "owner", dbh.name);
  await owner.query("GRANT SELECT ON audit_chain_checkpoints TO app");
  await owner.end();
  const c = await connectAs("app", "app", dbh.name);
  await c.query("BEGIN; SELECT set_config('app.bypass_rls', 'true', true)");
  const { rows } = await c.query("INSERT INTO tenants (name, slug) VALUES ('Acme', 'acme'), ('Globex', 'globex') RETURNING id::text, slug");
  await c.query("COMMIT");
  await c.end();
  ids = Object.fromEntries(rows.map((r) => [r.slug, r.id]));
});

after(async () => {
  rmSync(project, { recursive: true, force: true });
  await dbh?.drop();
});

function runApp() {
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  const env = { ...process.env, PATH, DATABASE_URL: url.toString() };
  delete env.USEBETTER_BINDING;
  delete env.NODE_PATH;
  const r = spawnSync(process.execPath, ["app.mjs", ids.acme, ids.globex], { cwd: project, env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { out: JSON.parse(r.stdout.trim().split("\n").at(-1)), stderr: r.stderr };
}

test("no Rust toolchain is reachable from the installed project", () => {
  assert.equal(spawnSync("cargo", ["--version"], { env: { PATH } }).error?.code, "ENOENT");
});

test("the addons come from the per-platform packages, not from @usebetter-rs/core itself", () => {
  const modules = join(project, "node_modules", "@usebetter-rs");
  assert.deepEqual(readdirSync(modules).sort(), ["cli-linux-x64-gnu", "core", "core-linux-x64-gnu"]);
  assert.ok(!existsSync(join(modules, "core", "native")));
  assert.ok(existsSync(join(modules, "core-linux-x64-gnu", "usebetter.linux-x64-gnu.node")));
  assert.ok(existsSync(join(modules, "cli-linux-x64-gnu", "usebetter-cli.linux-x64-gnu.node")));
});

test("the packed addons are release builds: stripped, no debug sections; the library's at most 8 MB unpacked, the tools' kept out of it", () => {
  for (const [pkg, file, limit] of [["core-linux-x64-gnu", "usebetter.linux-x64-gnu.node", 8_000_000], ["cli-linux-x64-gnu", "usebetter-cli.linux-x64-gnu.node", 8_000_000]]) {
    const dir = join(project, "node_modules", "@usebetter-rs", pkg);
    const sections = elfSectionNames(join(dir, file));
    for (const expected of [".text", ".dynsym", ".shstrtab"]) assert.ok(sections.includes(expected), `${pkg}: section ${expected} in ${sections}`);
    assert.deepEqual(sections.filter((s) => /^\.z?debug_|^\.symtab$|^\.strtab$/.test(s)), [], `debug info or symbol table left in ${pkg}`);
    const unpacked = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    assert.ok(unpacked <= limit, `${pkg} unpacks to ${unpacked} B`);
    const tarball = readdirSync(project).find((f) => f.startsWith(`usebetter-rs-${pkg}-`));
    assert.ok(statSync(join(project, tarball)).size <= limit / 2, `${tarball} is ${statSync(join(project, tarball)).size} B`);
  }
  // The library's addon has no command-line entry: an application never loads the tools' code.
  const library = createRequire(join(project, "package.json"))("@usebetter-rs/core-linux-x64-gnu");
  assert.equal(library.runTenantCli, undefined);
  assert.equal(typeof library.scopeSql, "function");
});

test("installed tarballs: the command-line tools run from node_modules/.bin", () => {
  const url = new URL(requireEnv("DATABASE_URL"));
  url.pathname = `/${dbh.name}`;
  const run = (bin, args) => spawnSync(join(project, "node_modules", ".bin", bin), args, { cwd: project, env: { ...process.env, PATH, DATABASE_URL: url.toString() }, encoding: "utf8" });
  const tenantCli = run("better-tenant", ["check", "--tables", "projects,tasks"]);
  assert.equal(tenantCli.status, 0, tenantCli.stderr + tenantCli.stdout);
  const auditCli = run("better-audit", ["stats"]);
  assert.equal(auditCli.status, 0, auditCli.stderr);
  assert.match(auditCli.stdout, /total \d+ entries/);
  const webhooksCli = run("better-webhooks", ["keys", "generate"]);
  assert.equal(webhooksCli.status, 0, webhooksCli.stderr);
  assert.match(webhooksCli.stdout, /^whsec_/);
  const emailCli = run("better-email", ["migrate", "--dry-run"]);
  assert.equal(emailCli.status, 0, emailCli.stderr);
  assert.match(emailCli.stdout, /^-- Better Email: /);
});

test("installed tarballs: the app runs on the native addon", () => {
  const { out, stderr } = runApp();
  assert.equal(out.backend, "native");
  assert.deepEqual(out.created, ["packed"]);
  assert.ok(out.seenByA.includes("packed"));
  assert.deepEqual(out.seenByB, [], "another tenant sees nothing of it");
  assert.deepEqual(out.logs, [{ operation: "INSERT", tenant_id: ids.acme, name: "packed" }]);
  assert.doesNotMatch(stderr, /USEBETTER_WASM_FALLBACK/);
});

test("installed tarballs without the addon: the same app on wasm, with one warning", () => {
  // As after `npm install --omit=optional`, or on a platform without a package.
  rmSync(join(project, "node_modules", "@usebetter-rs", "core-linux-x64-gnu"), { recursive: true, force: true });
  const { out, stderr } = runApp();
  assert.equal(out.backend, "wasm");
  assert.deepEqual(out.seenByB, []);
  assert.equal(out.logs.length, 2, "the second run's insert is audited too");
  assert.equal(stderr.match(/USEBETTER_WASM_FALLBACK/g)?.length, 1, stderr);
  assert.match(stderr, /slower than the native addon.*`npm install --include=optional` \(it is the optional dependency @usebetter-rs\/core-linux-x64-gnu\)/);
  // --help and --version need no addon; a command that does names the install command.
  const bin = (name, args) => spawnSync(join(project, "node_modules", ".bin", name), args, { cwd: project, env: { ...process.env, PATH }, encoding: "utf8" });
  // better-tenant's help names the program as the reference's does.
  for (const [name, program] of [["better-tenant", "@usebetterdev/tenant-cli"], ["better-audit", "better-audit"], ["better-webhooks", "better-webhooks"], ["better-email", "better-email"]]) {
    const help = bin(name, ["--help"]);
    assert.equal(help.status, 0, help.stderr);
    assert.ok(help.stdout.startsWith(`Usage: ${program} [options] [command]\n`), help.stdout);
    assert.equal(help.stderr, "");
  }
  // The tools run on their own addon, without the library's.
  const keys = bin("better-webhooks", ["keys", "generate"]);
  assert.equal(keys.status, 0, keys.stderr);
  assert.match(keys.stdout, /^whsec_/);
  // Without theirs, a command that needs it names the package to install.
  rmSync(join(project, "node_modules", "@usebetter-rs", "cli-linux-x64-gnu"), { recursive: true, force: true });
  const missing = bin("better-webhooks", ["keys", "generate"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^better-webhooks needs its native addon @usebetter-rs\/cli-linux-x64-gnu .*: run `npm install @usebetter-rs\/cli-linux-x64-gnu`$/m);
  assert.doesNotMatch(missing.stderr, /Require stack/);
});
