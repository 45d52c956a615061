// Serves a worker with workerd as a deployment would: bundled under the `workerd` condition,
// its WebAssembly modules embedded, text bindings, outbound connections limited to this machine
// (loopback and private addresses), and a second worker whose service binding calls the first
// one's `scheduled` handler (a cron trigger on demand).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleForWorkerd, freePort } from "./bundle.mjs";

const require = createRequire(import.meta.url);

/**
 * Starts workerd on `entry` (a path) with text `bindings`; resolves once `GET readyPath`
 * answers. `call(method, path, { headers, body, cron })` sends a request (`cron: true`: to the
 * trigger, which runs `scheduled` and answers its outcome as JSON).
 */
export async function serveWorker(entry, { prefix, bindings, readyPath = "/" }) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  await bundleForWorkerd(entry, dir);
  const wasm = readdirSync(dir).filter((f) => f.endsWith(".wasm")).sort();
  writeFileSync(join(dir, "trigger.js"), "export default { async fetch(request, env) { return Response.json(await env.MAIN.scheduled({ cron: \"* * * * *\" })); } };\n");
  const port = await freePort();
  const cronPort = await freePort();
  const text = (name, value) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(value)})`;
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker), (name = "trigger", worker = .trigger), (name = "local", network = (allow = ["local", "private"])) ],
  sockets = [
    (name = "http", address = "127.0.0.1:${port}", http = (), service = "main"),
    (name = "cron", address = "127.0.0.1:${cronPort}", http = (), service = "trigger"),
  ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    ${wasm.map((f) => `(name = "${f}", wasm = embed "${f}"),`).join("\n    ")}
  ],
  bindings = [ ${Object.entries(bindings).map(([k, v]) => text(k, v)).join(", ")} ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "local",
);
const trigger :Workerd.Worker = (
  modules = [ (name = "trigger.js", esModule = embed "trigger.js") ],
  bindings = [ (name = "MAIN", service = "main") ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["service_binding_extra_handlers"],
);
`,
  );
  let logs = "";
  const proc = spawn(require.resolve("workerd/bin/workerd"), ["serve", "--experimental", "--verbose", join(dir, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout.on("data", (d) => (logs += d));
  proc.stderr.on("data", (d) => (logs += d));
  async function call(method, path, { headers = {}, body, cron = false } = {}) {
    const r = await fetch(`http://127.0.0.1:${cron ? cronPort : port}${path}`, { method, headers, body, redirect: "manual" });
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: r.status, headers: r.headers, json, text };
  }
  for (let i = 0; i < 100; i++) {
    if (await call("GET", readyPath).catch(() => null)) {
      return { dir, wasm, call, logs: () => logs, stop: () => proc.kill() };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`workerd did not start:\n${logs}`);
}
