// The loader: automatic fallback to wasm, the env override, and a failure that lists attempts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const pkgDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");
let dir;

/** Loads a copy of the package in a child process and reports what happened. */
function load(copy, env) {
  const script = `try { const c = require(${JSON.stringify(copy)}); console.log(JSON.stringify({ backend: c.backend, attempts: c.loadAttempts.map((a) => a.backend), sql: c.generateAddTableSql("t", {}).length > 0 })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const env2 = { ...process.env, ...env };
  if (!("USEBETTER_BINDING" in env)) delete env2.USEBETTER_BINDING;
  const r = spawnSync(process.execPath, ["-e", script], { env: env2, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return { ...JSON.parse(r.stdout), ...(r.stderr ? { warning: r.stderr.split("\n")[0] } : {}) };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "usebetter-loader-"));
  cpSync(pkgDir, join(dir, "full"), { recursive: true });
  cpSync(pkgDir, join(dir, "no-native"), { recursive: true });
  rmSync(join(dir, "no-native", "native"), { recursive: true, force: true });
  cpSync(pkgDir, join(dir, "nothing"), { recursive: true });
  rmSync(join(dir, "nothing", "native"), { recursive: true, force: true });
  rmSync(join(dir, "nothing", "wasm"), { recursive: true, force: true });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("native is preferred when it loads", () => {
  assert.deepEqual(load(join(dir, "full"), {}), { backend: "native", attempts: [], sql: true });
});

test("falls back to wasm when the addon is missing, and says why", () => {
  const r = load(join(dir, "no-native"), {});
  assert.deepEqual({ ...r, warning: undefined }, { backend: "wasm", attempts: ["native"], sql: true, warning: undefined });
  assert.match(r.warning, /USEBETTER_WASM_FALLBACK.*using the WebAssembly build \(no native addon for this platform is installed\)/);
  assert.equal(load(join(dir, "full"), { USEBETTER_BINDING: "wasm" }).warning, undefined, "a chosen backend is not warned about");
});

test("USEBETTER_BINDING forces a backend", () => {
  assert.equal(load(join(dir, "full"), { USEBETTER_BINDING: "wasm" }).backend, "wasm");
  assert.equal(load(join(dir, "full"), { USEBETTER_BINDING: "native" }).backend, "native");
});

test("a forced backend that cannot load is an error, not a silent fallback", () => {
  const r = load(join(dir, "no-native"), { USEBETTER_BINDING: "native" });
  assert.equal(r.code, "BINDING_LOAD_FAILED");
  assert.match(r.message, /USEBETTER_BINDING=native/);
  assert.match(r.message, /- native: /);
  assert.doesNotMatch(r.message, /- wasm: /);
});

test("when nothing loads, every attempt is listed", () => {
  const r = load(join(dir, "nothing"), {});
  assert.equal(r.code, "BINDING_LOAD_FAILED");
  assert.match(r.message, /- native: .*\n\s+- wasm: /);
});

test("an unknown override value is rejected by name", () => {
  const r = load(join(dir, "full"), { USEBETTER_BINDING: "fast" });
  assert.equal(r.code, "INVALID_CONFIG");
  assert.match(r.message, /USEBETTER_BINDING must be "native" or "wasm", got "fast"/);
});

test("requireNative names the tool and the build that was loaded instead", () => {
  const script = `const c = require(${JSON.stringify(join(dir, "full"))});
    try { c.requireNative("better-audit"); console.log("no error"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    console.log(typeof c.requireNative === "function" && c.backend);`;
  const wasm = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, USEBETTER_BINDING: "wasm" }, encoding: "utf8" });
  const [err] = wasm.stdout.trim().split("\n");
  assert.deepEqual(JSON.parse(err), { code: "BINDING_LOAD_FAILED", message: "better-audit needs the native addon, but the wasm build was loaded" });
  const native = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, USEBETTER_BINDING: "native" }, encoding: "utf8" });
  assert.deepEqual(native.stdout.trim().split("\n"), ["no error", "native"]);
});
