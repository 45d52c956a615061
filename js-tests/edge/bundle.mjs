// Bundles a worker for workerd the way wrangler does: the `workerd` export condition, the
// `.wasm` file as a module of its own, and CommonJS `require` of Node built-ins (the packages'
// `node:async_hooks`, node-postgres's `net`, `events`, …) served from workerd's node: modules.
import { createServer } from "node:http";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";

const nodeBuiltins = {
  name: "node-builtins",
  setup(b) {
    const names = new Set(builtinModules);
    b.onResolve({ filter: /.*/ }, (args) => {
      const name = args.path.replace(/^node:/, "");
      if (args.namespace === "node-builtin" || !names.has(name)) return undefined;
      return { path: name, namespace: "node-builtin" };
    });
    b.onResolve({ filter: /^node:/, namespace: "node-builtin" }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: "node-builtin" }, (args) => ({
      contents: `import * as m from "node:${args.path}"; export default (m.default ?? m); export * from "node:${args.path}";`,
      loader: "js",
    }));
  },
};

/** Writes `worker.js` and `usebetter_wasm_bg.wasm` into `dir`. */
export function bundleForWorkerd(entry, dir) {
  return build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker"],
    external: ["cloudflare:sockets"],
    plugins: [nodeBuiltins],
    loader: { ".wasm": "copy" },
    assetNames: "[name]",
    outfile: join(dir, "worker.js"),
    logLevel: "error",
  });
}

/** A loopback port free at the time of asking, for workerd's sockets. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
