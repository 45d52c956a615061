import m from "../dist/smtp/index.js";

export const { smtp } = m;
