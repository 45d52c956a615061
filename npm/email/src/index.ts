// `@usebetterdev/email`: transactional email from the application's own PostgreSQL.
export { betterEmail, type BetterEmail, type BetterEmailConfig, type TemplateProps } from "./email";
export { html, escapeHtml, type SafeHtml } from "./html";
export { defineTemplate, type Template, type TemplateDefinition, type Rendered, type PropsOf, type StandardSchema } from "./templates";
export { failover, type FailoverOptions } from "./failover";
export { EmailError, EmailConfigError, EmailTemplateError, type EmailErrorCode } from "./errors";
export type { CallOptions, EmailDatabase, Executor } from "./db";
export type { WorkerOptions, RouteContext } from "./worker";
export type { EventProviders } from "./events";
export type { Suppression, SuppressionScope, SuppressionAddInput, SuppressionRemoveInput, SuppressionListQuery, SuppressionRow, ErasedCounts } from "./suppressions";
export type { StoredTemplate, TemplateSaveInput, TemplatePreview } from "./stored-templates";
export { dnsAnswers, type Sender, type SenderCreateInput, type DnsResolver, type DnsQuery, type DnsReport, type DnsCheck, type DnsCheckStatus, type DnsExpect } from "./senders";
export type * from "./types";
