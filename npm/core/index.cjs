"use strict";
// The only module that loads compiled code. Order: the native addon for this platform, then
// the WebAssembly build. USEBETTER_BINDING=native|wasm forces one; a forced backend that fails
// to load is an error, never a silent fallback.

const path = require("node:path");

const FORCE_ENV = "USEBETTER_BINDING";

// Candidates for this platform, glibc before musl on Linux: the per-platform package npm
// installed as an optional dependency, then a local build (a development checkout). Trying
// them avoids process.report.getReport(), which costs tens of milliseconds at every start.
function nativeFiles() {
  const { platform, arch } = process;
  const abis = platform === "linux" ? ["-gnu", "-musl"] : [""];
  return abis.flatMap((abi) => [`@usebetter-rs/core-${platform}-${arch}${abi}`, path.join(__dirname, "native", `usebetter.${platform}-${arch}${abi}.node`)]);
}

function loadNative() {
  const errors = [];
  for (const file of nativeFiles()) {
    try {
      return require(file);
    } catch (err) {
      errors.push(err);
    }
  }
  const first = errors.find((e) => e && e.code !== "MODULE_NOT_FOUND") || errors[0];
  throw first;
}

function loadWasm() {
  return require(path.join(__dirname, "wasm", "usebetter_wasm.js"));
}

function load() {
  const forced = process.env[FORCE_ENV];
  if (forced !== undefined && forced !== "" && forced !== "native" && forced !== "wasm") {
    const err = new Error(`${FORCE_ENV} must be "native" or "wasm", got ${JSON.stringify(forced)}`);
    err.code = "INVALID_CONFIG";
    throw err;
  }
  const order = forced ? [forced] : ["native", "wasm"];
  const attempts = [];
  for (const backend of order) {
    try {
      const binding = backend === "native" ? loadNative() : loadWasm();
      return { backend, binding, attempts };
    } catch (cause) {
      attempts.push({ backend, cause });
    }
  }
  const lines = attempts.map((a) => `  - ${a.backend}: ${a.cause && a.cause.message ? a.cause.message.split("\n")[0] : String(a.cause)}`);
  const err = new Error(
    `@usebetter-rs/core: no usable binding${forced ? ` (${FORCE_ENV}=${forced})` : ""}. Tried:\n${lines.join("\n")}\n` +
      "Reinstall the package, or set USEBETTER_BINDING=wasm to use the WebAssembly build.",
    { cause: attempts.length ? attempts[attempts.length - 1].cause : undefined },
  );
  err.code = "BINDING_LOAD_FAILED";
  err.attempts = attempts;
  throw err;
}

const { backend, binding, attempts } = load();

// Falling back is fine, silently falling back is not: one warning per process, naming why.
if (backend === "wasm" && attempts.length && !process.env[FORCE_ENV]) {
  const cause = attempts[0].cause;
  const why = cause && cause.code === "MODULE_NOT_FOUND" ? "no native addon for this platform is installed" : String((cause && cause.message) || cause).split("\n")[0];
  process.emitWarning(`@usebetter-rs/core: using the WebAssembly build (${why}); set USEBETTER_BINDING=wasm to choose it explicitly`, { code: "USEBETTER_WASM_FALLBACK" });
}

/** The native binding for `tool` (the command-line tools need its PostgreSQL client). */
function requireNative(tool) {
  if (backend === "native") return binding;
  const why = attempts.map((a) => `${a.backend}: ${a.cause && a.cause.message ? a.cause.message : a.cause}`).join("; ");
  const err = new Error(`${tool} needs the native addon, but the ${backend} build was loaded${why ? ` (${why})` : ""}`);
  err.code = "BINDING_LOAD_FAILED";
  throw err;
}

module.exports = {
  backend,
  requireNative,
  loadAttempts: attempts,
  TenantResolver: binding.TenantResolver,
  resolveTenant: binding.resolveTenant,
  verifyJwt: binding.verifyJwt,
  generateMigrationSql: binding.generateMigrationSql,
  generateAddTableSql: binding.generateAddTableSql,
  normalizeTenantId: binding.normalizeTenantId,
  tenantSignature: binding.tenantSignature,
  bypassSignature: binding.bypassSignature,
  scopeBindingSql: binding.scopeBindingSql,
  scopeSql: binding.scopeSql,
  auditDiff: binding.auditDiff,
  auditDiffJson: binding.auditDiffJson,
  auditImageSql: binding.auditImageSql,
  auditSealRows: binding.auditSealRows,
  auditVerifyRows: binding.auditVerifyRows,
  auditSealKey: binding.auditSealKey,
  auditChainSql: binding.auditChainSql,
  auditStoreSql: binding.auditStoreSql,
  auditChangedFieldsJson: binding.auditChangedFieldsJson,
  canonicalJson: binding.canonicalJson,
  parseDuration: binding.parseDuration,
  encodeCursor: binding.encodeCursor,
  decodeCursor: binding.decodeCursor,
  compileAuditQuery: binding.compileAuditQuery,
  sqlWrites: binding.sqlWrites,
  redactEntries: binding.redactEntries,
  EnrichmentRegistry: binding.EnrichmentRegistry,
  // Native only: the command-line tools need a PostgreSQL client, which the wasm build lacks.
  runTenantCli: binding.runTenantCli,
  runAuditCli: binding.runAuditCli,
  slugFromName: binding.slugFromName,
  buildNoConfigMessage: binding.buildNoConfigMessage,
  sqlEffects: binding.sqlEffects,
};
