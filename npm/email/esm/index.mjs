import m from "../dist/index.js";

export const { html, escapeHtml, defineTemplate, EmailError, EmailConfigError, EmailTemplateError } = m;
