import m from "../dist/drizzle/index.js";

export const { drizzleEmailAdapter } = m;
