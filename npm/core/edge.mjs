// Entry for edge runtimes (export conditions workerd, edge-light, worker, browser): the
// WebAssembly build without the SQL analyser, initialised synchronously from a compiled module
// import. Edge runtimes have no filesystem and refuse to compile WebAssembly from bytes at run
// time, so the module arrives through the bundler or the runtime's module loader.
import wasmModule from "./wasm-edge/usebetter_wasm_bg.wasm";
import { edgeCore } from "./edge-common.mjs";
import * as binding from "./wasm-edge/usebetter_wasm.js";

binding.initSync({ module: wasmModule });

export * from "./wasm-edge/usebetter_wasm.js";
export { backend, loadAttempts, requireNative } from "./edge-common.mjs";

const core = edgeCore(binding, [
  // Absent here: the SQL analyser, the SMTP transport and the email product, which has an edge
  // module of its own for its size (`@usebetter-rs/core/email-binding`, email-edge.mjs).
  "sqlWrites",
  "emailSmtpSend",
  "slugFromName",
  "buildNoConfigMessage",
  "sqlEffects",
  "sqlReadsAlone",
  "sqlSetsSession",
  "emailSigV4",
  "emailVerifyEvent",
  "emailSnsCertUrl",
  "emailUnsubscribeToken",
  "emailOpenUnsubscribeToken",
  "emailUnsubscribeHeaders",
  "emailDkimSign",
  "emailParseAddress",
  "emailRecipients",
  "emailBuildMessage",
  "emailMessageSize",
  "emailHtmlToText",
]);
export default core;
