import m from "../dist/sql/index.js";

export const { sqlEmailAdapter } = m;
