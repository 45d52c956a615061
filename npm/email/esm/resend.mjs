import m from "../dist/resend/index.js";

export const { resend } = m;
