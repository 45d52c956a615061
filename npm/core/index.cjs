"use strict";
// The only module that loads compiled code. Order: the native addon for this platform, then
// the WebAssembly build. USEBETTER_BINDING=native|wasm forces one; a forced backend that fails
// to load is an error, never a silent fallback.

const path = require("node:path");

const FORCE_ENV = "USEBETTER_BINDING";

// Candidates for this platform, glibc before musl on Linux: a local build (a development
// checkout; never in the published package), then the per-platform package npm installed as
// an optional dependency. Trying them avoids process.report.getReport(), which costs tens of
// milliseconds at every start.
function nativeFiles() {
  const { platform, arch } = process;
  const abis = platform === "linux" ? ["-gnu", "-musl"] : [""];
  return abis.flatMap((abi) => [path.join(__dirname, "native", `usebetter.${platform}-${arch}${abi}.node`), `@usebetter-rs/core-${platform}-${arch}${abi}`]);
}

function loadNative() {
  const errors = [];
  for (const file of nativeFiles()) {
    try {
      return require(file);
    } catch (err) {
      errors.push({ file, err });
    }
  }
  // An addon that is there but fails to load says the most; else the missing package (what a
  // user installs), not the missing development build.
  const first = errors.find((e) => e.err && e.err.code !== "MODULE_NOT_FOUND") || errors.find((e) => !path.isAbsolute(e.file)) || errors[0];
  throw first.err;
}

function loadWasm() {
  return require(path.join(__dirname, "wasm", "usebetter_wasm.js"));
}

/** The backend USEBETTER_BINDING names, if any; a value that names none is refused. */
function forcedBackend() {
  const forced = process.env[FORCE_ENV];
  if (forced !== undefined && forced !== "" && forced !== "native" && forced !== "wasm") {
    const err = new Error(`${FORCE_ENV} must be "native" or "wasm", got ${JSON.stringify(forced)}`);
    err.code = "INVALID_CONFIG";
    throw err;
  }
  return forced;
}

function load() {
  const forced = forcedBackend();
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


/** The per-platform package npm would install here; only asked on the fallback path. */
function platformPackage() {
  const { platform, arch } = process;
  if (platform !== "linux") return `@usebetter-rs/core-${platform}-${arch}`;
  const glibc = process.report && process.report.getReport().header.glibcVersionRuntime;
  return `@usebetter-rs/core-linux-${arch}-${glibc ? "gnu" : "musl"}`;
}

/** What to run to get the native addon: only packages that are published can be installed. */
function nativeFix() {
  const name = platformPackage();
  const published = Object.keys(require("./package.json").optionalDependencies || {});
  if (!published.includes(name)) return `no native addon is published for ${process.platform}-${process.arch} (${name})`;
  return `to use the native addon, run \`npm install --include=optional\` (it is the optional dependency ${name}) or \`npm install ${name}\``;
}

// Falling back is fine, silently falling back is not: one warning per process, naming why,
// what it costs and how to get the native addon.
function warnOnFallback({ backend, attempts }) {
  if (backend !== "wasm" || !attempts.length || process.env[FORCE_ENV]) return;
  const cause = attempts[0].cause;
  const why = cause && cause.code === "MODULE_NOT_FOUND" ? "no native addon for this platform is installed" : String((cause && cause.message) || cause).split("\n")[0];
  process.emitWarning(
    `@usebetter-rs/core: using the WebAssembly build (${why}). It is slower than the native addon, and the better-tenant and better-audit commands need the native one; ` +
      `${nativeFix()}. Set USEBETTER_BINDING=wasm to choose the WebAssembly build without this warning.`,
    { code: "USEBETTER_WASM_FALLBACK" },
  );
}

/** The native binding for `tool` (the command-line tools need its PostgreSQL client). */
function requireNative(tool) {
  const { backend, binding, attempts } = loaded();
  if (backend === "native") return binding;
  const why = attempts.map((a) => `${a.backend}: ${String((a.cause && a.cause.message) || a.cause).split("\n")[0]}`).join("; ");
  const fix = process.env[FORCE_ENV] ? "" : `; ${nativeFix()}`;
  const err = new Error(`${tool} needs the native addon, but the ${backend} build was loaded${why ? ` (${why})` : ""}${fix}`);
  err.code = "BINDING_LOAD_FAILED";
  throw err;
}

// The binding's functions and classes, written by scripts/core-exports.mjs from index.d.ts.
// slugFromName, buildNoConfigMessage and emailSmtpSend are native only; sqlEffects is absent from
// the edge build. The command-line tools' entries are in their own addon (cli.mjs).
const NAMES = [
  "TenantResolver", "resolveTenant", "verifyJwt", "bearerToken", "bearerClaim",
  "generateMigrationSql", "generateAddTableSql", "normalizeTenantId", "checkSlug",
  "tenantSignature", "bypassSignature", "tenantContract", "tenantsSql", "scopeBindingSql",
  "scopeIsolationSql", "scopeSql", "auditSealRows", "auditVerifyRows", "auditSealKey",
  "auditChainSql", "auditStoreSql", "auditChangedFieldsJson", "auditDiffSql", "auditContract",
  "auditInsertSql", "auditCaptureSql", "auditTableSql", "canonicalJson", "parseDuration",
  "encodeCursor", "decodeCursor", "compileAuditQuery", "sqlWrites", "redactEntries",
  "EnrichmentRegistry", "emailSmtpSend", "slugFromName", "buildNoConfigMessage", "sqlEffects",
  "sqlReadsAlone", "sqlSetsSession", "Webhooks", "webhookSign", "webhookVerify",
  "webhookGenerateSecret", "webhookClassifyAddress", "webhookClassifyOutcome", "webhookRetryAfter",
  "webhookId", "emailSigV4", "emailVerifyEvent", "emailSnsCertUrl", "emailUnsubscribeToken",
  "emailOpenUnsubscribeToken", "emailUnsubscribeHeaders", "emailDkimSign", "emailParseAddress",
  "emailRecipients", "emailBuildMessage", "emailMessageSize", "emailHtmlToText", "Email",
  "emailProviderRequest", "emailClassifyResponse",
];

// The binding loads on first use, not at require: importing a library that depends on this
// package (or running a command-line tool's --help) does not pay for loading compiled code.
// Only the USEBETTER_BINDING value is checked at once.
forcedBackend();
let state;
let failure;
function loaded() {
  if (failure) throw failure;
  if (state) return state;
  try {
    state = load();
  } catch (err) {
    failure = err;
    throw err;
  }
  // From now on plain data properties: hot paths read them without a getter.
  for (const name of NAMES) Object.defineProperty(module.exports, name, { value: state.binding[name], enumerable: true });
  Object.defineProperty(module.exports, "backend", { value: state.backend, enumerable: true });
  Object.defineProperty(module.exports, "loadAttempts", { value: state.attempts, enumerable: true });
  warnOnFallback(state);
  return state;
}

module.exports = { requireNative };
for (const name of ["backend", "loadAttempts", ...NAMES]) {
  const get = () => (loaded(), module.exports[name]);
  Object.defineProperty(module.exports, name, { get, enumerable: true, configurable: true });
}
