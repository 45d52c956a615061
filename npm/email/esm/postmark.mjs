import m from "../dist/postmark/index.js";

export const { postmark } = m;
