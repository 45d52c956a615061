import m from "../dist/index.js";

export const { betterEmail, html, escapeHtml, defineTemplate, EmailError, EmailConfigError, EmailTemplateError } = m;
