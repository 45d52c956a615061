// Runs the real `better-tenant` (or `better-audit`, `better-webhooks`, `better-email`) bin in a child process, in a project folder
// of its own.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const binOf = (pkg) => require.resolve(`${pkg}/package.json`).replace(/package\.json$/, "bin/cli.mjs");
const bins = {
  "better-tenant": binOf("@usebetterdev/tenant-cli"),
  "better-audit": binOf("@usebetterdev/audit-cli"),
  "better-webhooks": binOf("@usebetterdev/webhooks-cli"),
  "better-email": binOf("@usebetterdev/email-cli"),
};
const tmpRoot = fileURLToPath(new URL("../.tmp/", import.meta.url));

/** A fresh project folder inside js-tests (so `@usebetterdev/plugin` resolves from it). */
export function project(name, files = {}) {
  const dir = `${tmpRoot}${name}-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(`${dir}/${file}`, text);
  return dir;
}

export function configFile(tables, extra = "") {
  return `import { defineBetterConfig } from "@usebetterdev/plugin/config";\n\nexport default defineBetterConfig({\n  tenant: {\n    tenantTables: ${JSON.stringify(tables)},${extra}\n  },\n});\n`;
}

export function cli(args, { cwd, env = {}, input, tool = "better-tenant" } = {}) {
  return new Promise((resolve, reject) => {
    const fullEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k];
    const child = spawn(process.execPath, [bins[tool], ...args], { cwd, env: fullEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

const snapDir = fileURLToPath(new URL("../snapshots/", import.meta.url));

/** Compares `text` with `snapshots/<name>`; UPDATE_SNAPSHOTS=1 (re)writes it. */
export function matchSnapshot(name, text) {
  const path = `${snapDir}${name}`;
  if (process.env.UPDATE_SNAPSHOTS === "1") {
    mkdirSync(snapDir, { recursive: true });
    writeFileSync(path, text);
    return;
  }
  assert.ok(existsSync(path), `snapshot ${name} is missing: run with UPDATE_SNAPSHOTS=1 and review it`);
  assert.equal(text, readFileSync(path, "utf8"), `snapshot ${name}`);
}

/** Runs the real `better-audit` bin, as `cli` runs `better-tenant`. */
export const auditCli = (args, options = {}) => cli(args, { ...options, tool: "better-audit" });

/**
 * What the in-process CLI suites share: a scratch folder, URLs for a role on a database,
 * `cli(url, args, { env, config })` through the tool's `runCli`, `ok()` that requires exit 0,
 * `client()` connections and `created` databases, both released by `cleanup()`.
 */
export async function cliHarness(runCli, { prefix, config }) {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { connectAs, requireEnv } = await import("./db.mjs");
  const port = new URL(requireEnv("DATABASE_URL")).port;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const created = [];
  const clients = [];
  const urlOf = (db, user = "app", password = "app") => `postgres://${user}:${password}@127.0.0.1:${port}/${db}`;
  const run = (url, args, { env = {}, config: c = config } = {}) => runCli(args, { cwd: dir, config: c, env: { DATABASE_URL: url, ...env } });
  return {
    dir,
    created,
    urlOf,
    cli: run,
    async ok(url, args, options) {
      const r = await run(url, args, options);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async client(user, password, db) {
      const c = await connectAs(user, password, db);
      clients.push(c);
      return c;
    },
    async cleanup() {
      for (const c of clients) await c.end();
      for (const db of created) await db.drop();
    },
  };
}

/**
 * Starts a bin's `worker` (`bin` is its script) in `cwd` with `env` added; `started` resolves
 * once it reports "started (concurrency", `exited` to `{ code, signal, stderr }`. Kept in
 * `children` until it exits, so a test's `after` can kill what is left.
 */
export function startWorkerBin(bin, args, { cwd, env, children }) {
  const child = spawn(process.execPath, [bin, "worker", ...args], { cwd, env: { ...process.env, ...env } });
  children.add(child);
  let stderr = "";
  child.stdout.resume();
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => (children.delete(child), resolve({ code, signal, stderr }))));
  const started = new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (stderr.includes("started (concurrency")) (clearInterval(poll), resolve());
    }, 10);
    exited.then((r) => (clearInterval(poll), reject(new Error(`worker exited before starting: ${JSON.stringify(r)}`))));
  });
  return { child, started, exited };
}

/**
 * Lets a worker from `startWorkerBin` finish: polls `statuses()` every 250 ms until `done(s)` or
 * 180 s, then stops the worker with SIGTERM and asserts it stopped cleanly. Returns the last
 * statuses.
 */
export async function finishWorker(worker, statuses, done) {
  const end = Date.now() + 180_000;
  let s = await statuses();
  while (!done(s) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    s = await statuses();
  }
  worker.child.kill("SIGTERM");
  const stopped = await worker.exited;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /stopping \(SIGTERM\)[\s\S]*stopped/);
  return s;
}
