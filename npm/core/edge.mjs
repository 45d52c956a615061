// Entry for edge runtimes (export conditions workerd, edge-light, worker, browser): the
// WebAssembly build without the SQL analyser, initialised synchronously from a compiled module
// import. Edge runtimes have no filesystem and refuse to compile WebAssembly from bytes at run
// time, so the module arrives through the bundler or the runtime's module loader.
import wasmModule from "./wasm-edge/usebetter_wasm_bg.wasm";
import * as binding from "./wasm-edge/usebetter_wasm.js";

binding.initSync({ module: wasmModule });

export * from "./wasm-edge/usebetter_wasm.js";
export const backend = "wasm";
export const loadAttempts = [];
export function requireNative(tool) {
  const err = new Error(`${tool} needs the native addon, which edge runtimes cannot load`);
  err.code = "BINDING_LOAD_FAILED";
  throw err;
}

const core = {
  ...binding,
  backend,
  loadAttempts,
  requireNative,
  // Absent here: the SQL analyser, the SMTP transport and, for the
  // module's size budget, the email product's MIME and cryptography (bindings-wasm features
  // `email-mime`, `email-events`, `email-dkim`).
  sqlWrites: undefined,
  emailSmtpSend: undefined,
  slugFromName: undefined,
  buildNoConfigMessage: undefined,
  sqlEffects: undefined,
  emailSigV4: undefined,
  emailVerifyEvent: undefined,
  emailSnsCertUrl: undefined,
  emailUnsubscribeToken: undefined,
  emailOpenUnsubscribeToken: undefined,
  emailUnsubscribeHeaders: undefined,
  emailDkimSign: undefined,
  emailParseAddress: undefined,
  emailRecipients: undefined,
  emailBuildMessage: undefined,
  emailMessageSize: undefined,
};
export default core;
