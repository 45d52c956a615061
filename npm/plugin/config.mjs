import cjs from "./config.cjs";

export const { defineBetterConfig } = cjs;
