// Code templates: typed functions of props, registered by name. Rendering runs the template's
// Standard Schema (when it has one) first, then its functions; any failure is a coded error
// naming the template, never a half-rendered message.
import { EmailTemplateError } from "./errors";
import type { SafeHtml } from "./html";

/** The subset of Standard Schema v1 the templates use (zod, valibot, arktype implement it). */
export interface StandardSchema<T = unknown> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => { value: T; issues?: undefined } | { issues: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }> } | Promise<unknown>;
    readonly types?: { readonly input: unknown; readonly output: T } | undefined;
  };
}

export interface TemplateDefinition<Props> {
  name: string;
  /** The category a send of this template gets unless it names one. */
  category?: string;
  subject: (props: Props) => string;
  html?: (props: Props) => SafeHtml | string;
  text?: (props: Props) => string;
  /** Validates props at run time (TypeScript checks them at compile time). */
  schema?: StandardSchema<Props>;
  /** Props to render with in previews and to check database overrides against. */
  sample?: Props;
  /** Tenants may override it with `email.templates.save` (only these sends look for an override). */
  editable?: boolean;
}

export interface Rendered {
  subject: string;
  html?: string;
  text?: string;
}

export interface Template<Props> extends Readonly<TemplateDefinition<Props>> {
  /** Renders with `props`; `EMAIL_TEMPLATE_PROPS_INVALID` / `_RENDER_FAILED` name the template. */
  render(props: Props): Promise<Rendered>;
  /** Runs the schema only (`render: "worker"` checks props at send and renders later). */
  check(props: Props): Promise<Props>;
}

/** The props type of a template (`PropsOf<typeof welcome>`). */
export type PropsOf<T> = T extends Template<infer P> ? P : never;

/** A code template: `defineTemplate<{ name: string }>({ name: "welcome", subject: (p) => …, html: (p) => html\`…\` })`. */
export function defineTemplate<Props>(definition: TemplateDefinition<Props>): Template<Props> {
  const d = definition as Partial<TemplateDefinition<Props>> | null;
  if (typeof d !== "object" || d === null || typeof d.name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(d.name)) {
    throw new EmailTemplateError("EMAIL_INVALID_ARGUMENT", "defineTemplate: `name` must be 1 to 64 letters, digits, `_`, `.` or `-`");
  }
  if (typeof d.subject !== "function") throw new EmailTemplateError("EMAIL_INVALID_ARGUMENT", `defineTemplate(${d.name}): \`subject\` must be a function of the props`);
  if (d.html === undefined && d.text === undefined) throw new EmailTemplateError("EMAIL_INVALID_ARGUMENT", `defineTemplate(${d.name}): give \`html\`, \`text\` or both`);
  if (d.editable !== undefined && typeof d.editable !== "boolean") throw new EmailTemplateError("EMAIL_INVALID_ARGUMENT", `defineTemplate(${d.name}): \`editable\` must be a boolean`);
  for (const k of ["html", "text"] as const) {
    if (d[k] !== undefined && typeof d[k] !== "function") throw new EmailTemplateError("EMAIL_INVALID_ARGUMENT", `defineTemplate(${d.name}): \`${k}\` must be a function of the props`);
  }
  const name = definition.name;
  async function check(props: Props): Promise<Props> {
    if (!definition.schema) return props;
    const r = (await definition.schema["~standard"].validate(props)) as { value?: Props; issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }> };
    if (r.issues) {
      const first = r.issues[0];
      const at = first?.path?.length ? ` at ${first.path.map((p) => (typeof p === "object" && p !== null && "key" in p ? String((p as { key: unknown }).key) : String(p))).join(".")}` : "";
      throw new EmailTemplateError("EMAIL_TEMPLATE_PROPS_INVALID", `template "${name}": invalid props${at}: ${first?.message ?? "refused by its schema"}`);
    }
    return r.value as Props;
  }
  return Object.freeze({
    ...definition,
    check,
    async render(props: Props): Promise<Rendered> {
      const checked = await check(props);
      try {
        const out: Rendered = { subject: String(definition.subject(checked)) };
        if (definition.html) out.html = String(definition.html(checked));
        if (definition.text) out.text = String(definition.text(checked));
        return out;
      } catch (err) {
        if (err instanceof EmailTemplateError) throw new EmailTemplateError(err.code, `template "${name}": ${err.message}`, { cause: err });
        throw new EmailTemplateError("EMAIL_TEMPLATE_RENDER_FAILED", `template "${name}" failed to render: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
    },
  });
}
