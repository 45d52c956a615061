// The CLI's database work lives in the native addon; the wasm build has no PostgreSQL client.
import core from "@usebetter-rs/core";

export const native = () => core.requireNative("better-tenant");
