"use strict";
// Identity helper: it exists so config files get types, and so the import resolves.
function defineBetterConfig(config) {
  return config;
}
// The loader is an ES module (jiti is loaded on demand); CommonJS callers get a promise.
const loadBetterConfig = (options) => import("./load.mjs").then((m) => m.loadBetterConfig(options));
module.exports = { defineBetterConfig, loadBetterConfig };
