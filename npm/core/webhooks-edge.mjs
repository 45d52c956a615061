// `@usebetter-rs/core/webhooks-binding` on edge runtimes (export conditions workerd, edge-light,
// worker, browser): a WebAssembly module of its own for @usebetterdev/webhooks — the delivery
// engine (the `Webhooks` class: configuration, statements, signing, retry decisions, address
// checks) and the receiver's functions — without tenant, audit and email. It is separate from
// edge.mjs so that the edge module of apps without webhooks keeps its size budget; only the
// webhooks package loads it. Initialised synchronously from a compiled module import, as edge.mjs.
import wasmModule from "./wasm-webhooks/usebetter_webhooks_bg.wasm";
import { edgeCore } from "./edge-common.mjs";
import * as binding from "./wasm-webhooks/usebetter_webhooks.js";

binding.initSync({ module: wasmModule });

export * from "./wasm-webhooks/usebetter_webhooks.js";
export { backend, loadAttempts, requireNative } from "./edge-common.mjs";

// Nothing the webhooks package calls is absent here.
const core = edgeCore(binding, []);
export default core;
