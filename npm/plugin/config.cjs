"use strict";
// Identity helper: it exists so config files get types, and so the import resolves.
function defineBetterConfig(config) {
  return config;
}
module.exports = { defineBetterConfig };
