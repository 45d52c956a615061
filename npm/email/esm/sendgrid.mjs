import m from "../dist/sendgrid/index.js";

export const { sendgrid } = m;
