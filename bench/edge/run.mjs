// Edge figures: the edge and full wasm sizes (raw and gzip -9), and workerd cold start —
// process spawn to first response — for the js-tests edge worker (Hono, tenant, audit, wasm
// compile + init) and for a bare worker, median of 7 alternating runs each.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { bundleForWorkerd } from "../../js-tests/edge/bundle.mjs";

const require = createRequire(new URL("../../js-tests/package.json", import.meta.url));
const workerdBin = require.resolve("workerd/bin/workerd");
const coreDir = require.resolve("@usebetter-rs/core/package.json").replace(/package\.json$/, "");

const size = (file) => {
  const bytes = readFileSync(join(coreDir, file));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const edge = size("wasm-edge/usebetter_wasm_bg.wasm");
const full = size("wasm/usebetter_wasm_bg.wasm");

const freePort = () => new Promise((resolve) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const get = (port) => new Promise((resolve, reject) => { const r = request({ host: "127.0.0.1", port, path: "/tenant", headers: { "x-tenant-id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301" } }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); }); r.on("error", reject); r.end(); });

async function bundle(dir, withWasm) {
  if (withWasm) {
    await bundleForWorkerd(new URL("../../js-tests/edge/worker.mjs", import.meta.url).pathname, dir);
  } else {
    writeFileSync(join(dir, "worker.js"), 'export default { fetch() { return new Response("ok"); } };\n');
  }
}

async function coldStart(dir, withWasm) {
  const port = await freePort();
  const wasmModule = withWasm ? '\n    (name = "usebetter_wasm_bg.wasm", wasm = embed "usebetter_wasm_bg.wasm"),' : "";
  writeFileSync(join(dir, "config.capnp"), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = ( services = [ (name = "main", worker = .worker) ], sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ] );
const worker :Workerd.Worker = ( modules = [ (name = "worker.js", esModule = embed "worker.js"),${wasmModule} ], compatibilityDate = "2026-11-01", compatibilityFlags = ["nodejs_compat"] );
`);
  const t0 = process.hrtime.bigint();
  const child = spawn(workerdBin, ["serve", join(dir, "config.capnp")], { stdio: "ignore" });
  for (;;) {
    try {
      if ((await get(port)) === 200) break;
    } catch {
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  child.kill();
  await new Promise((r) => child.on("exit", r));
  return ms;
}

const dirs = { ours: mkdtempSync(join(tmpdir(), "edge-ours-")), bare: mkdtempSync(join(tmpdir(), "edge-bare-")) };
await bundle(dirs.ours, true);
await bundle(dirs.bare, false);
const runs = { ours: [], bare: [] };
for (let i = 0; i < 7; i++) for (const k of ["ours", "bare"]) runs[k].push(await coldStart(dirs[k], k === "ours"));
const median = (xs) => [...xs].sort((a, b) => a - b)[3];
const kb = (b) => (b / 1024).toFixed(1);
console.log(`edge wasm ${edge.raw} B (gzip ${edge.gzip} B); full wasm with the SQL analyser ${full.raw} B (gzip ${full.gzip} B); worker bundle ${readFileSync(join(dirs.ours, "worker.js")).length} B`);
console.log(`workerd cold start, spawn to first response (median of 7): with the edge worker ${median(runs.ours).toFixed(0)} ms, bare worker ${median(runs.bare).toFixed(0)} ms`);
console.log(`edge wasm-gzip=${kb(edge.gzip)}KB cold-start=${median(runs.ours).toFixed(0)}ms (bare ${median(runs.bare).toFixed(0)}ms)`);
