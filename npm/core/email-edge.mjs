// `@usebetter-rs/core/email-binding` on edge runtimes (export conditions workerd, edge-light, worker,
// browser): a WebAssembly module of its own for @usebetterdev/email — the send path, the worker's
// hand-off and records, the HTTP providers' requests and verdicts, event verification and
// unsubscribe tokens — without the SQL analyser, DKIM, the webhooks engine and the standalone
// helpers. It is separate from edge.mjs so that the edge module of apps without email keeps its
// size budget; only the email package loads it. Initialised synchronously from a compiled module
// import, as edge.mjs.
import wasmModule from "./wasm-email/usebetter_email_bg.wasm";
import { edgeCore } from "./edge-common.mjs";
import * as binding from "./wasm-email/usebetter_email.js";

binding.initSync({ module: wasmModule });

export * from "./wasm-email/usebetter_email.js";
export { backend, loadAttempts, requireNative } from "./edge-common.mjs";

const core = edgeCore(binding, [
  // Absent here: the SQL analyser and SMTP with its DKIM signing (the SMTP transport refuses
  // to be configured: EMAIL_TRANSPORT_UNAVAILABLE).
  "sqlWrites",
  "sqlEffects",
  "sqlReadsAlone",
  "sqlSetsSession",
  "emailSmtpSend",
  "emailDkimSign",
  "slugFromName",
  "buildNoConfigMessage",
  // The standalone helpers the email package does not call: it reaches their code through the
  // `Email` class and its transports (on Node they are all there).
  "emailParseAddress",
  "emailRecipients",
  "emailBuildMessage",
  "emailMessageSize",
  "emailHtmlToText",
  "emailSigV4",
  "emailUnsubscribeToken",
  "emailOpenUnsubscribeToken",
  "emailUnsubscribeHeaders",
]);
export default core;
