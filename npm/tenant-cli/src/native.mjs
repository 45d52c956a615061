// The CLI's database work lives in the native addon; the wasm build has no PostgreSQL client.
import core from "@usebetter-rs/core";

export function native() {
  if (core.backend !== "native") {
    const why = core.loadAttempts.map((a) => `${a.backend}: ${a.cause?.message ?? a.cause}`).join("; ");
    const err = new Error(`better-tenant needs the native addon, but the ${core.backend} build was loaded${why ? ` (${why})` : ""}`);
    err.code = "BINDING_LOAD_FAILED";
    throw err;
  }
  return core;
}
