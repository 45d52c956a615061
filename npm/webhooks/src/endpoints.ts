// Endpoint management. The core checks and seals; these functions run its statements in the
// caller's tenant scope (or in system context for an explicit `tenantId`).
import type { WebhookEndpointFields, WebhookEndpointPatch } from "@usebetter-rs/core";
import { core as binding, randomBytes, type Row } from "./core";
import { inTransaction, type CallOptions, type Shared } from "./context";
import { run, type Executor } from "./db";
import { guard, WebhooksEndpointError } from "./errors";
import { actionEntry, endpointEntry } from "./audit";
import { sendMany, type SendResult } from "./send";

/**
 * `endpoints.create` input: the core's endpoint fields with the URL as text (parsed here) and
 * `P`, the filters allowed (known event types and `prefix.*` patterns on their prefixes).
 */
export type EndpointInput<P extends string = string> = Omit<WebhookEndpointFields, "url" | "eventTypes"> & {
  url: string;
  eventTypes?: P[];
};

export interface Endpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  ordering: "none" | "key";
  status: "enabled" | "disabled";
  disabledReason: string | null;
  signing: "v1" | "v1a";
  headers: Record<string, string> | null;
  rateLimitPerSecond: number | null;
  metadata: Record<string, string> | null;
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  createdAt: Date;
}

/** `endpoints.update`: `null` clears an optional field. */
export type EndpointPatch<P extends string = string> = Omit<WebhookEndpointPatch, "url" | "eventTypes"> & {
  url?: string;
  eventTypes?: P[] | null;
};

/** `endpoints.health(id)`: the endpoint's state and its last 24 hours. */
export interface EndpointHealth {
  status: "enabled" | "disabled";
  disabledReason: string | null;
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  pausedUntil: Date | null;
  /** Successful attempts over attempts in the last 24 h (null without attempts). */
  successRate24h: number | null;
  p95Ms24h: number | null;
  blockedLanes: number;
}

const date = (v: unknown): Date | null => (v == null ? null : new Date(String(v)));
const num = (v: unknown): number | null => (v == null ? null : Number(v));

function endpoint(r: Row): Endpoint {
  return {
    id: binding.webhookId("endpoint", String(r.id), true),
    url: String(r.url),
    description: (r.description as string | null) ?? null,
    eventTypes: (r.event_types as string[] | null) ?? null,
    ordering: r.ordering as Endpoint["ordering"],
    status: r.status as Endpoint["status"],
    disabledReason: (r.disabled_reason as string | null) ?? null,
    signing: r.signing as Endpoint["signing"],
    headers: (r.headers as Record<string, string> | null) ?? null,
    rateLimitPerSecond: (r.rate_limit_per_second as number | null) ?? null,
    metadata: (r.metadata as Record<string, string> | null) ?? null,
    failingSince: date(r.failing_since),
    lastSuccessAt: date(r.last_success_at),
    createdAt: date(r.created_at) ?? new Date(0),
  };
}

function fields<F extends WebhookEndpointFields | WebhookEndpointPatch>(input: Partial<EndpointInput> | EndpointPatch): F {
  if (typeof input !== "object" || input === null) throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", "invalid `input`: expected an object");
  const { url, ...rest } = input;
  const out = { ...rest } as F;
  // `url: null` in a patch reaches the core, which refuses to clear it, naming the field.
  if (url === null) (out as WebhookEndpointPatch).url = null;
  else if (url !== undefined) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new WebhooksEndpointError("WEBHOOKS_URL_INVALID", `invalid \`url\`: ${JSON.stringify(url)} is not a URL`);
    }
    out.url = { href: u.href, protocol: u.protocol, username: u.username, password: u.password, hostname: u.hostname, port: u.port };
  }
  return out;
}

const uuid = (id: string) => guard(WebhooksEndpointError, () => binding.webhookId("endpoint", id, false));
const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

export function endpointsApi<P extends string = string, Tx = unknown>(s: Shared) {
  const tx = <T>(opts: CallOptions | undefined, fn: Parameters<typeof inTransaction<T>>[3]) => inTransaction(s, opts, WebhooksEndpointError, fn, "manage");
  // Audited in the transaction of the change, when `audit` is configured.
  const audited = async (ex: Executor, rows: Row[], operation: "INSERT" | "UPDATE" | "DELETE", what: string) => {
    if (s.audit && rows[0]) await s.audit.write(ex, [endpointEntry(operation, rows[0], what)]);
    return rows;
  };
  const action = async (ex: Executor, id: string, t: string | null, what: string, after: Record<string, unknown>) => {
    if (s.audit) await s.audit.write(ex, [actionEntry("webhook_endpoints", binding.webhookId("endpoint", uuid(id), true), t, what, after)]);
  };
  const one = async (rows: Row[], id: string): Promise<Endpoint> => {
    if (!rows[0]) throw new WebhooksEndpointError("WEBHOOKS_NOT_FOUND", `no endpoint ${id} in this tenant`);
    return endpoint(rows[0]);
  };
  return {
    async create(input: EndpointInput<P>, opts?: CallOptions<Tx>) {
      const p = guard(WebhooksEndpointError, () => s.core.prepareEndpoint(fields(input), Date.now(), randomBytes(66)));
      const r = p.row;
      const rows = await tx(opts, async (ex, tenant) => {
        await run(ex, s.statements, "lockEndpointLimit", [tenant]);
        const rows = await run(ex, s.statements, "insertEndpoint", [
          tenant, r.id, r.url, r.description ?? null, r.eventTypes ?? null, r.ordering ?? null, r.status !== "disabled",
          json(r.keys), json(r.headers), r.rateLimitPerSecond ?? null, json(r.metadata), s.settings.maxEndpointsPerTenant,
        ]);
        return audited(ex, rows, "INSERT", "webhook endpoint created");
      });
      if (!rows[0]) throw new WebhooksEndpointError("WEBHOOKS_LIMIT_REACHED", `this tenant already has ${s.settings.maxEndpointsPerTenant} live endpoints (\`maxEndpointsPerTenant\`)`);
      return { endpoint: endpoint(rows[0]), secret: p.secret, ...(p.publicKey ? { publicKey: p.publicKey } : {}) };
    },
    async get(id: string, opts?: CallOptions<Tx>) {
      return one(await tx(opts, (ex, t) => run(ex, s.statements, "getEndpoint", [t, uuid(id)])), id);
    },
    async list(q: { status?: "enabled" | "disabled" | "deleted"; cursor?: string; limit?: number } = {}, opts?: CallOptions<Tx>) {
      const plan = guard(WebhooksEndpointError, () => s.core.listParams("endpoints", q));
      const rows = await tx(opts, (ex, t) => run(ex, s.statements, plan.statement, [t, ...plan.params]));
      const { nextCursor } = s.core.listPage("endpoints", rows, plan.limit);
      return { data: rows.slice(0, plan.limit).map(endpoint), nextCursor };
    },
    /** Changes the fields given; `null` clears an optional one. Secrets change through `rotateSecret`. */
    async update(id: string, patch: EndpointPatch<P>, opts?: CallOptions<Tx>) {
      const params = guard(WebhooksEndpointError, () => s.core.checkPatch(fields<WebhookEndpointPatch>(patch)));
      const rows = await tx(opts, async (ex, t) => audited(ex, await run(ex, s.statements, "updateEndpoint", [t, uuid(id), ...params]), "UPDATE", "webhook endpoint updated"));
      return one(rows, id);
    },
    async health(id: string, opts?: CallOptions<Tx>): Promise<EndpointHealth> {
      const [r] = await tx(opts, (ex, t) => run(ex, s.statements, "endpointHealth", [t, uuid(id)]));
      if (!r) throw new WebhooksEndpointError("WEBHOOKS_NOT_FOUND", `no endpoint ${id} in this tenant`);
      return {
        status: r.status as EndpointHealth["status"],
        disabledReason: (r.disabled_reason as string | null) ?? null,
        failingSince: date(r.failing_since),
        lastSuccessAt: date(r.last_success_at),
        pausedUntil: date(r.paused_until),
        successRate24h: num(r.success_rate_24h),
        p95Ms24h: num(r.p95_ms_24h),
        blockedLanes: num(r.blocked_lanes) ?? 0,
      };
    },
    /**
     * A `webhook.test` message for this endpoint alone, through the normal pipeline (it passes
     * the endpoint's event-type filter). Real event types go through `send()`, whose payload
     * is checked against their schema.
     */
    async sendTest(id: string, o: { eventType?: "webhook.test" } = {}, opts?: CallOptions<Tx>): Promise<SendResult> {
      if (o?.eventType !== undefined && o.eventType !== "webhook.test") {
        throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", `invalid \`eventType\`: sendTest sends "webhook.test"; send ${JSON.stringify(o.eventType)} with send(), which checks its payload`);
      }
      const ep = await one(await tx(opts, (ex, t) => run(ex, s.statements, "getEndpoint", [t, uuid(id)])), id);
      if (ep.status !== "enabled") throw new WebhooksEndpointError("WEBHOOKS_ENDPOINT_DISABLED", `endpoint ${id} is disabled: enable it first (webhooks.endpoints.enable)`);
      // As a management call: an operator's `{ tenantId }` sends in a system-context transaction.
      const [r] = await sendMany(s, new Map(), [{ eventType: "webhook.test", payload: { endpointId: ep.id, test: true }, endpoints: [ep.id] }], false, opts, "manage");
      return r!;
    },
    async disable(id: string, o: { reason?: string } = {}, opts?: CallOptions<Tx>) {
      const reason = o?.reason;
      // Stored and shown to the tenant and operators: one line of text.
      if (reason !== undefined && (typeof reason !== "string" || reason.length === 0 || reason.length > 1000 || /[\u0000-\u001f]/.test(reason))) {
        throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", "invalid `reason`: expected 1 to 1000 characters without control characters");
      }
      const rows = await tx(opts, async (ex, t) => audited(ex, await run(ex, s.statements, "disableEndpoint", [t, uuid(id), o.reason ?? "manual"]), "UPDATE", "webhook endpoint disabled"));
      return one(rows, id);
    },
    async enable(id: string, opts?: CallOptions<Tx>) {
      return one(await tx(opts, async (ex, t) => audited(ex, await run(ex, s.statements, "enableEndpoint", [t, uuid(id)]), "UPDATE", "webhook endpoint enabled")), id);
    },
    async delete(id: string, opts?: CallOptions<Tx>) {
      const rows = await tx(opts, async (ex, t) => {
        const live = await run(ex, s.statements, "getEndpoint", [t, uuid(id)]);
        if (!live.length) return [];
        const done = await run(ex, s.statements, "deleteEndpoint", [uuid(id), t]);
        await audited(ex, live, "DELETE", "webhook endpoint deleted");
        return done;
      });
      if (!rows.length) throw new WebhooksEndpointError("WEBHOOKS_NOT_FOUND", `no endpoint ${id} in this tenant`);
    },
    async rotateSecret(id: string, o: { graceHours?: number; secret?: string } = {}, opts?: CallOptions<Tx>) {
      return tx(opts, async (ex, t) => {
        const [k] = await run(ex, s.statements, "endpointKeys", [t, uuid(id)]);
        if (!k) throw new WebhooksEndpointError("WEBHOOKS_NOT_FOUND", `no endpoint ${id} in this tenant`);
        const r = guard(WebhooksEndpointError, () => s.core.rotateSecret(id, k.keys as unknown[], o, Date.now(), randomBytes(66)));
        const done = await run(ex, s.statements, "setEndpointKeys", [t, [uuid(id)], [json(k.keys)], [json(r.keys)]]);
        if (!done.length) throw new WebhooksEndpointError("WEBHOOKS_INVALID_STATE", "the endpoint's keys changed concurrently; retry the rotation");
        await action(ex, id, t, "webhook endpoint secret rotated", { action: "rotateSecret", graceHours: o.graceHours ?? null, secretGiven: o.secret !== undefined });
        return { secret: r.secret, ...(r.publicKey ? { publicKey: r.publicKey } : {}) };
      });
    },
    async revealSecret(id: string, opts?: CallOptions<Tx>) {
      return tx(opts, async (ex, t) => {
        const [k] = await run(ex, s.statements, "endpointKeys", [t, uuid(id)]);
        if (!k) throw new WebhooksEndpointError("WEBHOOKS_NOT_FOUND", `no endpoint ${id} in this tenant`);
        const secret = guard(WebhooksEndpointError, () => s.core.revealSecret(id, k.keys as unknown[], Date.now()));
        await action(ex, id, t, "webhook endpoint secret revealed", { action: "revealSecret" });
        return secret;
      });
    },
  };
}
