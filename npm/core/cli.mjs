// What the command-line tools share. `--version` and the top-level `--help` are answered
// without loading the addon: the help texts are the addon's own output, saved by
// scripts/build.sh into cli-help.json. Every other invocation loads the addon when it runs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
let helps;

function savedHelp(program) {
  if (helps === undefined) {
    try {
      helps = JSON.parse(readFileSync(new URL("./cli-help.json", import.meta.url), "utf8"));
    } catch {
      helps = {}; // not built: the addon answers instead
    }
  }
  return helps[program];
}

/** `{ code, stdout, stderr }` for `--version` / `--help` (as the addon parses them), else null. */
export function answerWithoutAddon(program, args, version, usageCode = 1) {
  const first = args[0];
  if (first === "-V" || first === "--version") return { code: 0, stdout: `${version}\n`, stderr: "" };
  // `help <command>` is the command's own help: the addon answers it.
  if (first === undefined || first === "-h" || first === "--help" || (first === "help" && args.length === 1)) {
    const text = savedHelp(program);
    // No command at all is an error, as commander has it: the help goes to stderr, exit 1.
    if (typeof text === "string") return first === undefined ? { code: usageCode, stdout: "", stderr: text } : { code: 0, stdout: text, stderr: "" };
  }
  return null;
}

/**
 * The tools' own addon (their commands and PostgreSQL client), loaded now for `tool`: the local
 * build in ./native first, then this platform's @usebetter-rs/cli-* package. Missing, the error
 * names the package to install; an addon that is there but fails to load says why.
 */
export function nativeFor(tool) {
  // USEBETTER_BINDING chooses the library's backend; the tools have only a native one.
  const forced = process.env.USEBETTER_BINDING;
  if (forced !== undefined && forced !== "" && forced !== "native") {
    const err = new Error(
      forced === "wasm"
        ? `${tool} needs its native addon (its PostgreSQL client), but USEBETTER_BINDING=wasm forbids native code`
        : `USEBETTER_BINDING must be "native" or "wasm", got ${JSON.stringify(forced)}`,
    );
    err.code = forced === "wasm" ? "BINDING_LOAD_FAILED" : "INVALID_CONFIG";
    throw err;
  }
  // As the library's loader (index.cjs): every libc variant is tried, no libc probe needed.
  const { platform, arch } = process;
  const abis = platform === "linux" ? ["-gnu", "-musl"] : [""];
  const errors = [];
  for (const abi of abis) {
    for (const file of [fileURLToPath(new URL(`./native/usebetter-cli.${platform}-${arch}${abi}.node`, import.meta.url)), `@usebetter-rs/cli-${platform}-${arch}${abi}`]) {
      try {
        return require(file);
      } catch (err) {
        errors.push(err);
      }
    }
  }
  const broken = errors.find((e) => e?.code !== "MODULE_NOT_FOUND");
  const pkg = `@usebetter-rs/cli-${platform}-${arch}${abis[0]}`;
  const err = new Error(
    broken
      ? `${tool}: its native addon failed to load: ${String(broken.message).split("\n")[0]}`
      : `${tool} needs its native addon ${pkg} (an optional dependency of the tool, left out by --omit=optional or on another platform): run \`npm install ${pkg}\``,
  );
  err.code = "BINDING_LOAD_FAILED";
  throw err;
}

/** The value of `--name value` or `--name=value` in `args`, else undefined. */
export function optionValue(args, name) {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i].includes("=") ? args[i].slice(name.length + 1) : args[i + 1];
}

/**
 * Runs `tool` in-process: `--version` and `--help` without the addon, else the config (when
 * `needsConfig(args)`; `loadPlugin` imports @usebetterdev/plugin/config from the tool's own
 * package, which depends on it) and the addon's run of `args` with the environment's settings.
 */
export async function runTool({ tool, version, loadPlugin, needsConfig = () => true, usageCode = 1 }, args, { cwd = process.cwd(), env = process.env, config, dnsAnswers } = {}) {
  const answer = answerWithoutAddon(tool, args, version, usageCode);
  if (answer) return answer;
  let loaded = config;
  if (loaded === undefined && needsConfig(args)) {
    try {
      const { tryLoadConfig } = await loadPlugin();
      loaded = await tryLoadConfig(cwd, optionValue(args, "--config"));
    } catch (err) {
      return { code: 1, stdout: "", stderr: `${err.message}\n`, errorCode: err.code ?? "INVALID_CONFIG" };
    }
  }
  const context = {
    cwd,
    version,
    config: loaded ?? null,
    databaseUrl: env.DATABASE_URL ?? null,
    hardenedKey: env.BETTER_TENANT_HARDENED_KEY ?? null,
    sslMode: env.PGSSLMODE ?? null,
    sslRootCert: env.PGSSLROOTCERT ?? null,
    dnsAnswers: dnsAnswers ?? null,
  };
  const native = nativeFor(tool);
  if (tool === "better-audit") return native.runAuditCli(args, { ...context, sealKey: env.AUDIT_SEAL_KEY ?? null });
  if (tool === "better-webhooks") {
    const keys = { secretsKey: env.BETTER_WEBHOOKS_KEY ?? null, secretsKeyPrevious: env.BETTER_WEBHOOKS_KEY_PREVIOUS ?? null };
    return native.runWebhooksCli(args, { ...context, ...keys });
  }
  if (tool === "better-email") return native.runEmailCli(args, context);
  return native.runTenantCli(args, context);
}

/** A bin's entry: prints what `run` resolves to and gives its exit code (1 when it throws). */
export async function runMain(run) {
  try {
    const { code, stdout, stderr } = await run();
    process.stdout.write(stdout);
    process.stderr.write(stderr);
    return code;
  } catch (err) {
    process.stderr.write(`${err?.message ?? err}\n`);
    return 1;
  }
}

/**
 * A long-running command's wait (`worker`): resolves to why it should stop, SIGTERM, SIGINT or
 * `max-seconds` after `maxSeconds` (if given). `signals` is the process, or an emitter in tests.
 */
export function untilStopped(signals, maxSeconds) {
  return new Promise((resolve) => {
    const stop = (why) => () => resolve(why);
    signals.once("SIGTERM", stop("SIGTERM"));
    signals.once("SIGINT", stop("SIGINT"));
    if (maxSeconds) setTimeout(stop("max-seconds"), maxSeconds * 1000).unref();
  });
}
