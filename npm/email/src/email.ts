// `betterEmail(config)`: compiles the configuration once (every data key checked by the core)
// and wires sending and the delivery engine to the database adapter and the transports.
import core from "@usebetter-rs/core/email-binding";
import type { CallOptions, EmailDatabase } from "./db";
import { emailAudit } from "./audit";
import { EmailConfigError, EmailError, guard } from "./errors";
import { events, type EventProviders } from "./events";
import { unsubscribe } from "./handlers";
import { operate } from "./operator";
import { sendMany, type SendContext } from "./send";
import { sendersApi, type DnsResolver } from "./senders";
import { storedTemplatesApi } from "./stored-templates";
import { erase, suppressionsApi } from "./suppressions";
import type { Template } from "./templates";
import type { EmailHookEvent, SendInput, SendResult, Transport } from "./types";
import { createEngine, runWorker, type RouteContext, type WorkerOptions } from "./worker";

/** A template of any props (the registry's constraint: a template's props are both taken and given, so no narrower type fits every template). */
export type AnyTemplate = Template<any>;

/** Props of each template of a registry. */
export type TemplateProps<R> = { [K in keyof R]: R[K] extends Template<infer P> ? P : never };

export interface BetterEmailConfig<R extends Record<string, AnyTemplate>, Tx = unknown> {
  database: EmailDatabase<Tx>;
  /** One transport, or `transports` (by name) and `route`. */
  transport?: Transport;
  transports?: Record<string, Transport>;
  route?: (ctx: RouteContext) => string;
  /** The default sender, `"Name <address>"`. */
  from: string;
  templates?: R;
  /** When templates render: inside `send()` (`"enqueue"`, the default) or at the first hand-off
   *  (`"worker"`: the props are stored; the worker needs the same `templates`). */
  render?: "enqueue" | "worker";
  /** A betterAudit() instance: suppression-list changes and erasures become audit entries. */
  audit?: unknown;
  /** Provider events as normalized, `message.ambiguous` and `transport.down`. */
  onEvent?: (event: EmailHookEvent) => unknown;
  /** Tenants' senders (spec §11): `fallback: "app"` sends a `from` no verified sender covers from
   *  the app's `from` (`Reply-To` the address asked for); `resolver` replaces `node:dns`. */
  senders?: { fallback?: "app"; resolver?: DnsResolver };
  [key: string]: unknown;
}

function isTransport(t: unknown): t is Transport {
  return typeof t === "object" && t !== null && typeof (t as Transport).send === "function" && typeof (t as Transport).name === "string";
}

export function betterEmail<const R extends Record<string, AnyTemplate> = Record<never, never>, Tx = unknown>(config: BetterEmailConfig<R, Tx>) {
  if (typeof config !== "object" || config === null) throw new EmailConfigError("EMAIL_INVALID_CONFIG", "betterEmail(config): expected an object");
  // Instances and functions stay here; the core checks the data.
  const { database, transport, transports, route, templates = {} as R, onEvent, audit, senders, ...rest } = config;
  const { resolver, ...sendersData } = (typeof senders === "object" && senders !== null ? senders : {}) as { resolver?: DnsResolver };
  if (resolver !== undefined && (typeof resolver?.resolveTxt !== "function" || typeof resolver.resolveCname !== "function")) {
    throw new EmailConfigError("EMAIL_INVALID_CONFIG", "invalid `senders.resolver`: expected { resolveTxt, resolveCname } (a node:dns/promises Resolver)");
  }
  if (onEvent !== undefined && typeof onEvent !== "function") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "invalid `onEvent`: expected a function (event) => void");
  if (!database || typeof (database as Partial<EmailDatabase>).transaction !== "function") {
    throw new EmailConfigError("EMAIL_INVALID_CONFIG", "invalid `database`: expected an adapter (drizzleEmailAdapter(db) or sqlEmailAdapter(pool))");
  }
  const named: Record<string, Transport> = {};
  if (transport !== undefined) {
    if (!isTransport(transport)) throw new EmailConfigError("EMAIL_INVALID_CONFIG", "invalid `transport`: expected a transport such as smtp({...}) or resend({...})");
    named[transport.name] = transport;
  }
  for (const [k, t] of Object.entries(transports ?? {})) {
    if (!isTransport(t)) throw new EmailConfigError("EMAIL_INVALID_CONFIG", `invalid \`transports.${k}\`: expected a transport`);
    named[k] = t;
  }
  if (route !== undefined && typeof route !== "function") throw new EmailConfigError("EMAIL_INVALID_CONFIG", "invalid `route`: expected a function ({ tenantId, category }) => transport name");
  // The claim takes one rate's grants before routing: one transport, or a failover of several.
  if (Object.keys(named).length > 1 && Object.values(named).some((t) => t.maxPerSecond !== undefined)) {
    throw new EmailConfigError(
      "EMAIL_INVALID_CONFIG",
      "invalid `transports`: `maxPerSecond` is enforced for a single transport (or one failover([...]) of several); this version does not enforce it across routed transports",
    );
  }
  const meta: Record<string, { category?: string; editable?: boolean }> = {};
  for (const [k, t] of Object.entries(templates)) {
    if (typeof t?.render !== "function" || typeof t.check !== "function") throw new EmailConfigError("EMAIL_INVALID_CONFIG", `invalid \`templates.${k}\`: expected defineTemplate(...)`);
    meta[k] = { ...(t.category === undefined ? {} : { category: t.category }), ...(t.editable ? { editable: true } : {}) };
  }
  const auditWriter = emailAudit(audit);
  const compiled = guard(EmailConfigError, () => new core.Email({ ...rest, ...(senders === undefined ? {} : { senders: typeof senders === "object" && senders !== null ? sendersData : senders }), transports: Object.keys(named), templates: meta }));
  const settings = compiled.settings();
  const wakers = new Set<() => void>();
  const ctx: SendContext = {
    core: compiled,
    db: database as EmailDatabase,
    statements: compiled.statements(),
    templates,
    requireTransaction: settings.requireTransaction,
    renderInWorker: settings.render === "worker",
    storeProps: settings.storeProps,
    ...(onEvent ? { onEvent: onEvent as (e: EmailHookEvent) => unknown } : {}),
    ...(auditWriter ? { audit: auditWriter } : {}),
    wake: () => wakers.forEach((w) => setTimeout(w, 5)),
  };
  // Shared by this instance's workers and drains: a transport that refused our credentials rests.
  const paused = new Map<string, number>();
  const engine = (o: WorkerOptions) =>
    createEngine(
      {
        core: compiled,
        db: ctx.db,
        statements: ctx.statements,
        transports: named,
        templates,
        route,
        onAmbiguous: settings.onAmbiguous,
        paused,
        ...(ctx.onEvent ? { onEvent: ctx.onEvent } : {}),
        ...(ctx.audit ? { audit: ctx.audit } : {}),
      },
      o,
    );
  type T = TemplateProps<R>;
  return {
    send: async (input: SendInput<T>, opts?: CallOptions<Tx>): Promise<SendResult> => (await sendMany(ctx, [input as SendInput], false, opts as CallOptions))[0]!,
    sendMany: (inputs: SendInput<T>[], opts?: CallOptions<Tx>): Promise<SendResult[]> => sendMany(ctx, inputs as SendInput[], true, opts as CallOptions),
    /** Cancels a queued message (`EMAIL_INVALID_STATE` once it is being sent or done). */
    cancel: async (id: string, opts?: CallOptions<Tx>): Promise<void> => void (await operate(ctx, "cancel", id, opts as CallOptions)),
    /** Queues a failed or expired message once more. */
    retry: async (id: string, opts?: CallOptions<Tx>): Promise<void> => void (await operate(ctx, "retry", id, opts as CallOptions)),
    /** Decides a message held `ambiguous` (`onAmbiguous: "hold"`): send it again, or drop it. */
    resolve: async (id: string, decision: "resend" | "drop", opts?: CallOptions<Tx>): Promise<void> => {
      if (decision !== "resend" && decision !== "drop") throw new EmailError("EMAIL_INVALID_ARGUMENT", 'invalid `decision`: expected "resend" or "drop"');
      await operate(ctx, decision, id, opts as CallOptions);
    },
    /** Tenant-editable overrides of the code templates (spec §7.3): save, remove, list, preview. */
    templates: storedTemplatesApi(ctx),
    /** The suppression list (spec §10.4): check, add, remove, list, export, import. */
    suppressions: suppressionsApi(ctx),
    /** Tenants' senders and their DNS readiness (spec §11): create, list, verify, remove. */
    senders: sendersApi({ ctx, transports: named, ...(resolver ? { resolver } : {}) }),
    /** Erases an address everywhere (GDPR); its suppressions keep blocking it by hash. */
    erase: (address: string, opts?: { tx?: Tx | "autocommit" }) => erase(ctx, address, opts as CallOptions),
    /** The HTTP handlers on the Fetch API; `/hono` and `/express` adapt them. */
    handlers: {
      unsubscribe: (request: Request): Promise<Response> => unsubscribe(ctx, request),
      /** Provider events at `/…/:provider`, for the providers configured in `providers`. */
      events: (request: Request, providers: EventProviders): Promise<Response> => events(ctx, providers, request),
    },
    /** The DDL of `better-email migrate` (also handy in tests). */
    migrationSql: (ahead = 4): string => compiled.migrationSql(Date.now(), ahead),
    /** Hands off until no message is due or a limit is reached (cron, edge). */
    async drain(o: WorkerOptions & { maxMs?: number; maxMessages?: number } = {}) {
      const e = engine(o);
      const until = Date.now() + (o.maxMs ?? 25_000);
      let handed = 0;
      await e.reap();
      while (Date.now() < until && handed < (o.maxMessages ?? 1_000)) {
        const n = await e.tick();
        handed += n;
        if (n > 0) continue;
        // Due mail held back by the transport's rate: wait for its grant while time is left.
        const w = e.waitMs();
        if (w === null || Date.now() + w >= until) break;
        await new Promise((r) => setTimeout(r, w));
      }
      return { handed };
    },
    createWorker(o: WorkerOptions = {}) {
      const worker = runWorker(engine(o), o);
      return {
        async start() {
          wakers.add(worker.wake);
          await worker.start();
        },
        async stop() {
          wakers.delete(worker.wake);
          await worker.stop();
        },
      };
    },
  };
}

export type BetterEmail<R extends Record<string, AnyTemplate> = Record<string, AnyTemplate>, Tx = unknown> = ReturnType<typeof betterEmail<R, Tx>>;
