// Finds and loads better.config.* from the working directory (or an explicit path): TypeScript
// and ESM/CJS through jiti, JSON as data. Shared by the better-tenant and better-audit CLIs.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const CANDIDATES = ["ts", "mts", "cts", "mjs", "js", "cjs", "json"].map((ext) => `better.config.${ext}`);

export class ConfigLoadError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = "ConfigLoadError";
  }
}

export function findConfig(cwd = process.cwd()) {
  for (const name of CANDIDATES) {
    const path = join(cwd, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export async function loadConfigFile(path) {
  try {
    if (path.endsWith(".json")) return JSON.parse(await readFile(path, "utf8"));
    // Configs import defineBetterConfig (from the root or /config); resolve both to this
    // package even where the project lacks it.
    const helpers = fileURLToPath(new URL("./config.cjs", import.meta.url));
    const alias = { "@usebetterdev/plugin/config": helpers, "@usebetterdev/plugin": helpers };
    // Loaded on demand: jiti is large and most invocations never need it.
    const { createJiti } = await import("jiti");
    const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false, alias });
    const mod = await jiti.import(path);
    return mod && typeof mod === "object" && "default" in mod ? mod.default : mod;
  } catch (cause) {
    const reason = String(cause?.message ?? cause).split("\n")[0];
    throw new ConfigLoadError(`Config error: could not load ${path}: ${reason}`, { cause });
  }
}

/** Loads the config or returns null when there is none. */
export async function tryLoadConfig(cwd = process.cwd(), explicitPath) {
  const path = explicitPath ? (isAbsolute(explicitPath) ? explicitPath : resolve(cwd, explicitPath)) : findConfig(cwd);
  if (!path) return null;
  if (!existsSync(path)) throw new ConfigLoadError(`Config error: ${path} not found (from --config)`);
  return loadConfigFile(path);
}

/** `better.config.*` of `cwd` (or `configFile`), or null when there is none. */
export function loadBetterConfig({ cwd = process.cwd(), configFile } = {}) {
  return tryLoadConfig(cwd, configFile);
}
