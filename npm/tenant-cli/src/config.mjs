// better-tenant's config file: found and loaded by @usebetterdev/plugin/config (the reference's
// loader lives there too), plus the message for a project without one.
import { ConfigLoadError, tryLoadConfig } from "@usebetterdev/plugin/config";
import { native } from "./native.mjs";

export const CONFIG_FILE = "better.config.ts";
export const NO_CONFIG_MESSAGE_PREFIX = "better-tenant: No config found.";
export { ConfigLoadError, findConfig, loadConfigFile, tryLoadConfig } from "@usebetterdev/plugin/config";

/** Loads the config; throws the no-config message when there is none. */
export async function loadConfig(cwd = process.cwd()) {
  const config = await tryLoadConfig(cwd);
  if (config === null) throw new ConfigLoadError(buildNoConfigMessage(cwd));
  return config;
}

export function buildNoConfigMessage(cwd, suggestedTables) {
  return native().buildNoConfigMessage(cwd, suggestedTables ?? null);
}
