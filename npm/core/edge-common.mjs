// What both edge entries (edge.mjs, email-edge.mjs) add to their WebAssembly module: the
// loader's fields, with the edge's answers, and its default export with the absent functions.

export const backend = "wasm";
export const loadAttempts = [];
export function requireNative(tool) {
  const err = new Error(`${tool} needs the native addon, which edge runtimes cannot load`);
  err.code = "BINDING_LOAD_FAILED";
  throw err;
}

/** The default export: `binding` with the loader's fields, `absent` names as `undefined`. */
export function edgeCore(binding, absent) {
  const core = { ...binding, backend, loadAttempts, requireNative };
  for (const name of absent) core[name] = undefined;
  return core;
}
