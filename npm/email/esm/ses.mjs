import m from "../dist/ses/index.js";

export const { ses } = m;
