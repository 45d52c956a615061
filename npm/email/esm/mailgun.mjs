import m from "../dist/mailgun/index.js";

export const { mailgun } = m;
