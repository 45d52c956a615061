import cjs from "./config.cjs";

export const { defineBetterConfig } = cjs;
export { ConfigLoadError, findConfig, loadBetterConfig, loadConfigFile, tryLoadConfig } from "./load.mjs";
