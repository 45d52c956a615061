import m from "../dist/index.js";

export const { betterEmail, html, escapeHtml, defineTemplate, failover, EmailError, EmailConfigError, EmailTemplateError, dnsAnswers } = m;
