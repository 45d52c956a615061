// suite: once (scripts/test.sh runs it once; the others run on each backend)
// The edge build in a real edge runtime: the worker (js-tests/edge/worker.mjs) is bundled with
// esbuild under the `workerd` condition and served by workerd (npm `workerd`, raw config.capnp,
// loopback only). Also: the edge wasm's size budget.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { build } from "esbuild";
import { SECRET, signJwt, nowSeconds } from "./helpers/keys.mjs";
import { tenantDatabase } from "./helpers/app.mjs";
import { bundleForWorkerd, freePort } from "./edge/bundle.mjs";
import { signWebhook } from "@usebetterdev/webhooks/receiver";

const require = createRequire(import.meta.url);
const coreDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");
const dir = mkdtempSync(join(tmpdir(), "usebetter-edge-"));
let port;
let workerd;
let logs = "";

before(async () => {
  await bundleForWorkerd(new URL("./edge/worker.mjs", import.meta.url).pathname, dir);
  port = await freePort();
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "usebetter_wasm_bg.wasm", wasm = embed "usebetter_wasm_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["nodejs_compat"],
);
`,
  );
  workerd = spawn(require.resolve("workerd/bin/workerd"), ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
  workerd.stdout.on("data", (d) => (logs += d));
  workerd.stderr.on("data", (d) => (logs += d));
  for (let i = 0; i < 100; i++) {
    try {
      await call("GET", "/tenant");
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`workerd did not start:\n${logs}`);
});
after(() => workerd?.kill());

/** A delivery signed now (body with spaces a re-serialisation would drop), and a forged one. */
function webhookDeliveries() {
  const body = '{"type": "invoice.paid", "data": {"amount": 42}}';
  const timestamp = nowSeconds();
  const id = "msg_edge_1";
  const signature = signWebhook({ id, timestamp, body, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });
  const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
  return { body, timestamp, headers, forged: { ...headers, "webhook-signature": signWebhook({ id, timestamp, body, secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD" }) } };
}

function call(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: "localhost", ...headers } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null, text }));
    });
    req.on("error", reject);
    if (body !== undefined) req.end(typeof body === "string" ? body : JSON.stringify(body));
    else req.end();
  });
}

test("edge wasm (no SQL analyser) stays within 250 KB gzip", () => {
  const bytes = readFileSync(join(coreDir, "wasm-edge", "usebetter_wasm_bg.wasm"));
  const gz = gzipSync(bytes, { level: 9 }).length;
  assert.ok(gz <= 250 * 1024, `edge wasm is ${gz} B gzip`);
});

test("workerd: tenant by header, subdomain and verified JWT through the edge wasm", async () => {
  const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  const byHeader = await call("GET", "/tenant", { headers: { "x-tenant-id": id.toUpperCase() } });
  assert.equal(byHeader.status, 200, logs);
  assert.deepEqual(byHeader.json, { tenant: id, backend: "wasm", analyser: "undefined" });
  assert.equal((await call("GET", "/tenant", { headers: { host: "acme.example.com" } })).json.tenant, "acme");
  const token = signJwt({ tenant_id: "globex", sub: "u1", exp: nowSeconds() + 60 });
  assert.equal((await call("GET", "/tenant", { headers: { authorization: `Bearer ${token}` } })).json.tenant, "globex");
  const forged = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
  assert.equal((await call("GET", "/tenant", { headers: { authorization: `Bearer ${forged}` } })).json.tenant, null, "a bad signature names no tenant");
});

test("workerd: audit middleware actor, diff and seal through the edge wasm", async () => {
  const token = signJwt({ sub: "alice", exp: nowSeconds() + 60 });
  const r = await call("POST", "/projects/7", {
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: { before: { name: "a", tags: { x: 1, y: 2 } }, after: { name: "b", tags: { y: 2, x: 1 } } },
  });
  assert.equal(r.status, 200, r.text + logs);
  assert.deepEqual(r.json, {
    actorId: "alice",
    path: "/projects/7",
    diff: { changedFields: ["name"], changes: [{ field: "name", old: "a", new: "b" }] },
    seq: 1,
    intact: true,
    forged: "edited",
  });
  const unsigned = await call("POST", "/projects/8", { headers: { authorization: `Bearer ${signJwt({ sub: "x" }, "HS256").split(".").slice(0, 2).join(".")}.` }, body: { before: {}, after: { a: 1 } } });
  assert.equal(unsigned.json.actorId, null, "an unverifiable token gives no actor");
});

test("workerd: verifyWebhook through the edge wasm", async () => {
  const d = webhookDeliveries();
  const ok = await call("POST", "/webhook", { headers: d.headers, body: d.body });
  assert.equal(ok.status, 200, ok.text + logs);
  assert.deepEqual(ok.json, { id: "msg_edge_1", timestamp: d.timestamp, json: { type: "invoice.paid", data: { amount: 42 } } });
  const forged = await call("POST", "/webhook", { headers: d.forged, body: d.body });
  assert.deepEqual([forged.status, forged.json], [401, { code: "WEBHOOK_BAD_SIGNATURE", name: "WebhookVerificationError" }]);
  const changed = await call("POST", "/webhook", { headers: d.headers, body: d.body.replace("42", "43") });
  assert.equal(changed.json.code, "WEBHOOK_BAD_SIGNATURE");
});

test("Vercel edge-runtime: the same worker under the edge-light condition", async () => {
  const { EdgeRuntime } = await import("edge-runtime");
  const { AsyncLocalStorage } = await import("node:async_hooks");
  // The module arrives as the platform hands compiled modules to edge functions: by import.
  const wasmAsModule = {
    name: "wasm-module",
    setup(b) {
      b.onResolve({ filter: /\.wasm$/ }, (args) => ({ path: args.path, namespace: "wasm-module" }));
      b.onLoad({ filter: /.*/, namespace: "wasm-module" }, () => ({ contents: "export default globalThis.__usebetterWasm;", loader: "js" }));
    },
  };
  const out = await build({
    entryPoints: [new URL("./edge/worker.mjs", import.meta.url).pathname],
    bundle: true,
    format: "iife",
    globalName: "worker",
    platform: "browser",
    conditions: ["edge-light", "worker"],
    plugins: [wasmAsModule],
    external: ["node:*"],
    write: false,
    logLevel: "error",
    // Next's edge bundles map node:async_hooks to the runtime's AsyncLocalStorage global.
    banner: { js: 'globalThis.require ??= (m) => { if (m === "node:async_hooks") return { AsyncLocalStorage: globalThis.AsyncLocalStorage }; throw new Error(`require(${m}) is not available here`); };' },
  });
  const wasmBytes = readFileSync(join(coreDir, "wasm-edge", "usebetter_wasm_bg.wasm"));
  const runtime = new EdgeRuntime({
    extend: (context) => Object.assign(context, { AsyncLocalStorage, __wasmBytes: new Uint8Array(wasmBytes) }),
  });
  runtime.evaluate("globalThis.__usebetterWasm = new WebAssembly.Module(__wasmBytes);");
  runtime.evaluate(out.outputFiles[0].text);
  runtime.evaluate('addEventListener("fetch", (event) => event.respondWith(worker.default.fetch(event.request)));');
  const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  const res = await runtime.dispatchFetch("http://acme.example.com/tenant", { headers: { "x-tenant-id": id } });
  assert.deepEqual(await res.json(), { tenant: id, backend: "wasm", analyser: "undefined" });
  const sub = await runtime.dispatchFetch("http://acme.example.com/tenant");
  assert.equal((await sub.json()).tenant, "acme");
  const token = signJwt({ sub: "alice", tenant_id: "globex", exp: nowSeconds() + 60 });
  assert.equal((await (await runtime.dispatchFetch("http://localhost/tenant", { headers: { authorization: `Bearer ${token}` } })).json()).tenant, "globex");
  const audited = await runtime.dispatchFetch("http://localhost/projects/9", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ before: { n: 1 }, after: { n: 2 } }),
  });
  const body = await audited.json();
  assert.deepEqual([body.actorId, body.diff.changedFields, body.intact, body.forged], ["alice", ["n"], true, "edited"]);
  // verifyWebhook in the edge runtime.
  const d = webhookDeliveries();
  const hook = await runtime.dispatchFetch("http://localhost/webhook", { method: "POST", headers: d.headers, body: d.body });
  assert.equal(hook.status, 200);
  assert.deepEqual(await hook.json(), { id: "msg_edge_1", timestamp: d.timestamp, json: { type: "invoice.paid", data: { amount: 42 } } });
  const forged = await runtime.dispatchFetch("http://localhost/webhook", { method: "POST", headers: d.forged, body: d.body });
  assert.deepEqual([forged.status, await forged.json()], [401, { code: "WEBHOOK_BAD_SIGNATURE", name: "WebhookVerificationError" }]);
});

test("workerd + node-postgres over cloudflare:sockets: tenant-scoped queries against the local PostgreSQL", async () => {
  const env = await tenantDatabase("edgedb", { poolSize: 1 });
  const wdir = mkdtempSync(join(tmpdir(), "usebetter-edge-db-"));
  let child;
  let out = "";
  try {
    await bundleForWorkerd(new URL("./edge/worker-db.mjs", import.meta.url).pathname, wdir);
    const dbPort = await freePort();
    // Outbound connections may reach this machine only (loopback and private addresses).
    writeFileSync(
      join(wdir, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker), (name = "local", network = (allow = ["local", "private"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:${dbPort}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "usebetter_wasm_bg.wasm", wasm = embed "usebetter_wasm_bg.wasm"),
  ],
  bindings = [ (name = "DATABASE_URL", text = ${JSON.stringify(env.url)}) ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "local",
);
`,
    );
    child = spawn(require.resolve("workerd/bin/workerd"), ["serve", join(wdir, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const get = (tenantHeader) =>
      new Promise((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: dbPort, path: "/projects", headers: tenantHeader ? { "x-tenant-id": tenantHeader } : {} }, (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode, text }));
        });
        req.on("error", reject);
        req.end();
      });
    let first;
    for (let i = 0; i < 100 && !first; i++) first = await get(env.ids.acme).catch(() => new Promise((r) => setTimeout(() => r(undefined), 100)));
    assert.equal(first?.status, 200, `${first?.text}\n${out}`);
    assert.deepEqual(JSON.parse(first.text), ["acme-1", "acme-2"]);
    assert.deepEqual(JSON.parse((await get(env.ids.globex)).text), ["globex-1"]);
    assert.equal((await get(undefined)).status, 404, "no tenant, no rows");
  } finally {
    child?.kill();
    await env.close();
  }
});
