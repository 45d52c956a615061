// `send` / `sendMany`: templates are rendered here (code templates are the application's
// functions); the core checks every message and hands back one statement at a time, all run in
// the caller's transaction.
import type { AuditWriter } from "./audit";
import type { EmailHookEvent } from "./types";
import type { Email as CoreEmail, EmailSendStep } from "@usebetter-rs/core/email-binding";
import { inCallerTransaction, run, type CallOptions, type EmailDatabase, type Statements } from "./db";
import { idBytes } from "@usebetter-rs/core/shared";
import { EmailError, EmailTemplateError, guard } from "./errors";
import type { AnyTemplate } from "./email";
import type { SendInput, SendResult } from "./types";

export interface SendContext {
  core: CoreEmail;
  db: EmailDatabase;
  statements: Statements;
  templates: Readonly<Record<string, AnyTemplate>>;
  requireTransaction: boolean;
  /** `render: "worker"`: templated sends store their props, the worker renders them. */
  renderInWorker: boolean;
  /** `retention.storeProps`: a templated send's props are kept. */
  storeProps: boolean;
  /** Wakes in-process workers after a send. */
  wake(): void;
  onEvent?: (e: EmailHookEvent) => unknown;
  /** With `audit`: writes audit entries on the change's transaction. */
  audit?: AuditWriter;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** `props` as stored for the worker: through JSON, or a coded error for what JSON cannot hold. */
function jsonOf(template: string, props: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(props ?? {}) ?? "{}");
  } catch (err) {
    throw new EmailTemplateError("EMAIL_TEMPLATE_PROPS_INVALID", `template "${template}": render: "worker" stores the props as JSON, which cannot hold them: ${(err as Error)?.message ?? String(err)}`);
  }
}

const time = (d: unknown, field: string): number => {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new EmailError("EMAIL_INVALID_ARGUMENT", `invalid \`${field}\`: expected a Date`);
  return d.getTime();
};

async function item(ctx: SendContext, input: SendInput, field: (k: string) => string): Promise<Record<string, unknown>> {
  if (typeof input !== "object" || input === null) throw new EmailError("EMAIL_INVALID_ARGUMENT", `invalid \`${field("")}\`: expected a message object`);
  const { template, props, sendAt, expiresAt, attachments, ...rest } = input as SendInput & { template?: string; props?: unknown };
  const out: Record<string, unknown> = { ...rest };
  if (template !== undefined) {
    const t = Object.hasOwn(ctx.templates, template) ? ctx.templates[template] : undefined;
    if (!t) throw new EmailTemplateError("EMAIL_TEMPLATE_NOT_FOUND", `invalid \`${field("template")}\`: no template "${template}" is registered (betterEmail({ templates }))`);
    out.template = template;
    if (ctx.renderInWorker) {
      // Only the schema runs here, on the props as the worker will read them back (JSON);
      // what it keeps (not what it strips) is stored. Without a schema (or one that keeps
      // the object) that is the JSON copy already.
      const json = jsonOf(template, props);
      const kept = await t.check(json as never);
      out.props = kept === json ? json : jsonOf(template, kept);
    } else {
      Object.assign(out, await t.render(props as never));
      // The props go along when they are stored, or for an editable template, whose tenant's
      // override renders with them (the others' would only cross the binding for nothing).
      if (props !== undefined && (ctx.storeProps || t.editable)) out.props = props;
    }
  }
  if (sendAt !== undefined) out.sendAtMs = time(sendAt, field("sendAt"));
  if (expiresAt !== undefined) out.expiresAtMs = expiresAt === null ? null : time(expiresAt, field("expiresAt"));
  if (attachments !== undefined) {
    if (!Array.isArray(attachments)) throw new EmailError("EMAIL_INVALID_ARGUMENT", `invalid \`${field("attachments")}\`: expected an array`);
    out.attachments = attachments.map((a) => {
      const { content, ...meta } = a;
      return content instanceof Uint8Array ? { ...meta, base64: base64(content) } : { ...meta, content };
    });
  }
  return out;
}

export async function sendMany(ctx: SendContext, inputs: SendInput[], many: boolean, opts?: CallOptions): Promise<SendResult[]> {
  if (!Array.isArray(inputs)) throw new EmailError("EMAIL_INVALID_ARGUMENT", "invalid `inputs`: expected an array of messages");
  const items: Record<string, unknown>[] = [];
  for (const [i, input] of inputs.entries()) {
    items.push(await item(ctx, input, (k) => (many ? `inputs[${i}]${k ? `.${k}` : ""}` : k || "input")));
  }
  const random = idBytes(items.length * 10);
  let step = guard(EmailError, () => JSON.parse(ctx.core.sendBegin(JSON.stringify(items), many, Date.now(), random)) as EmailSendStep);
  // Without the caller's transaction, a send of several statements (an idempotency key's
  // claim before its INSERT) gets one of its own: a claim committed without its message would
  // make the key's later sends duplicates of nothing.
  const alone = (opts?.tx === "autocommit" || !ctx.requireTransaction) && step.run !== undefined && !step.last;
  const results = await inCallerTransaction(ctx.db, ctx.requireTransaction, opts, async (ex, tenant) => {
    while (step.run) {
      const { statement, params, tenant: takesTenant } = step.run;
      const rows = await run(ex, ctx.statements, statement, takesTenant === false ? params : [tenant, ...params]);
      const state = step.state ?? "";
      step = guard(EmailError, () => JSON.parse(ctx.core.sendNext(state, JSON.stringify(rows))) as EmailSendStep);
    }
    return step.results ?? [];
  }, alone ? (fn) => ctx.db.transaction(fn) : undefined);
  if (results.some((r) => r.status === "queued")) ctx.wake();
  return results as SendResult[];
}
