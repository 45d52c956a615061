import m from "./console.cjs";

export const { badRequest, isPlainObject, consoleHandler } = m;
