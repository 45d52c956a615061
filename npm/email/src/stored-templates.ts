// Tenant-editable templates (spec §7.3): Jinja-syntax overrides of code templates, stored per
// tenant in `email_templates` and rendered by the core (minijinja, fuel-limited). An override
// must accept the code template's props: `save` renders it with the code template's `sample`
// first and refuses one that fails. Inside a tenant scope the calls act on the scope's tenant;
// outside, `{ tenantId }` acts as the operator for one tenant.
import type { EmailTemplateOp } from "@usebetter-rs/core/email-binding";
import { inCallerTransaction, run, systemTransaction, type CallOptions, type Executor } from "./db";
import { EmailError, EmailTemplateError, guard } from "./errors";
import type { Rendered } from "./templates";
import type { SendContext } from "./send";
import { tenantOf } from "./suppressions";

/** A stored version of a tenant's template. */
export interface StoredTemplate {
  id: string;
  tenantId: string;
  name: string;
  /** `""`: the default locale. */
  locale: string;
  version: number;
  subject: string;
  html: string | null;
  text: string | null;
  createdAt: string;
}

export interface TemplateSaveInput {
  /** The code template it overrides (its props and `sample` are the contract). */
  name: string;
  /** `de`, `de-CH`; default: every locale without one of its own. */
  locale?: string;
  subject: string;
  html?: string;
  text?: string;
  /** Outside a tenant scope: the tenant it belongs to. */
  tenantId?: string;
}

export interface TemplatePreview extends Rendered {
  /** `"database"`: the tenant's override; `"code"`: the code template. */
  source: "database" | "code";
  locale?: string;
  version?: number;
}

async function execute<T>(ctx: SendContext, op: EmailTemplateOp, input: Record<string, unknown>, opts: CallOptions | undefined): Promise<T> {
  const tenantId = tenantOf(opts);
  const plan = guard(EmailTemplateError, () => ctx.core.templatePlan(op, input, tenantId));
  const apply = async (ex: Executor) => {
    if (plan.lock) await run(ex, ctx.statements, plan.lock.statement, plan.lock.params);
    const rows = await run(ex, ctx.statements, plan.statement, plan.params);
    return guard(EmailTemplateError, () => ctx.core.templateResult(op, input, rows)) as T;
  };
  return inCallerTransaction(ctx.db, false, opts, apply, (fn) => {
    if (tenantId === null) {
      throw new EmailError(
        "EMAIL_TENANT_REQUIRED",
        `templates.${op} needs a tenant: call it inside a tenant scope (tenant.runAs or the tenant middleware) or pass \`{ tenantId }\` to act for one tenant`,
      );
    }
    return systemTransaction(ctx.db, fn);
  });
}

function codeTemplate(ctx: SendContext, name: unknown) {
  const t = typeof name === "string" && Object.hasOwn(ctx.templates, name) ? ctx.templates[name] : undefined;
  if (!t) {
    throw new EmailTemplateError("EMAIL_TEMPLATE_NOT_FOUND", `invalid \`name\`: no code template "${String(name)}" is registered (betterEmail({ templates })); an override needs the template it overrides`);
  }
  return t;
}

/** `email.templates`. */
export function storedTemplatesApi(ctx: SendContext) {
  return {
    /** Stores `input` as the tenant's active version of the template (and locale); returns it. */
    save: async (input: TemplateSaveInput, opts?: Omit<CallOptions, "tenantId">): Promise<StoredTemplate> => {
      if (typeof input !== "object" || input === null) throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `input`: expected { name, subject, html?, text?, locale? }");
      const { tenantId, ...rest } = input;
      const t = codeTemplate(ctx, rest.name);
      if (t.sample === undefined) {
        throw new EmailTemplateError(
          "EMAIL_INVALID_ARGUMENT",
          `invalid \`name\`: template "${t.name}" has no \`sample\` props; add \`sample\` to its defineTemplate({...}) so that overrides are checked against them`,
        );
      }
      return execute(ctx, "save", { ...rest, sample: t.sample as unknown }, { ...opts, ...(tenantId === undefined ? {} : { tenantId }) });
    },
    /** Retires the tenant's override of `name` (of one locale, or all): the code template is used again. */
    remove: (name: string, opts?: CallOptions & { locale?: string }): Promise<{ removed: number }> => {
      const { locale, ...call } = opts ?? {};
      return execute(ctx, "remove", { name, ...(locale === undefined ? {} : { locale }) }, call);
    },
    /** The tenant's active overrides. */
    list: (opts?: CallOptions): Promise<StoredTemplate[]> => execute(ctx, "list", {}, opts),
    /** What a send of `name` with `props` would render for the tenant (override or code template). */
    preview: async (name: string, props: unknown, opts?: CallOptions & { locale?: string }): Promise<TemplatePreview> => {
      const t = codeTemplate(ctx, name);
      // Sends of a template that is not editable never look for an override; neither does this.
      if (!t.editable) return { source: "code", ...(await t.render(props as never)) };
      const { locale, ...call } = opts ?? {};
      const found = await execute<TemplatePreview | null>(ctx, "preview", { name, props: props ?? {}, ...(locale === undefined ? {} : { locale }) }, call);
      if (found) return found;
      return { source: "code", ...(await t.render(props as never)) };
    },
  };
}
