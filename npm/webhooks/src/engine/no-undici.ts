// `#undici` under the edge conditions (package.json `imports`): edge runtimes deliver over
// `fetch` (fetchDispatcher), so the Node dispatcher and undici are never loaded there, and this
// empty module keeps undici out of edge bundles.
export {};
