import m from "../dist/next/index.js";

export const { withTenant } = m;
