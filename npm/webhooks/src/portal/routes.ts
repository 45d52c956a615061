// The portal API (spec §11): tenant-scoped JSON routes an application mounts behind its own
// authentication, so its customers manage their endpoints and see their deliveries. `authorize`
// names the tenant; every route then calls the instance's API with that tenant, so the same
// checks, statements, audit entries and row-level security apply as to the application's own
// calls. The framework subpaths only translate requests and answers.
import type { CallOptions as AnyCallOptions } from "../types";

// `{ tenantId }` only: `never` for the transaction lets any instance (whatever its `Tx`) fit.
type CallOptions = AnyCallOptions<never>;
import { WebhooksConfigError, WebhooksEndpointError, WebhooksError } from "../errors";

/** What the portal calls on a `betterWebhooks()` instance (any event map). */
export interface PortalWebhooks {
  endpoints: {
    list(q: object, o: CallOptions): Promise<unknown>;
    create(input: never, o: CallOptions): Promise<unknown>;
    get(id: string, o: CallOptions): Promise<unknown>;
    update(id: string, patch: never, o: CallOptions): Promise<unknown>;
    delete(id: string, o: CallOptions): Promise<void>;
    enable(id: string, o: CallOptions): Promise<unknown>;
    disable(id: string, d: { reason?: string }, o: CallOptions): Promise<unknown>;
    rotateSecret(id: string, r: { graceHours?: number; secret?: string }, o: CallOptions): Promise<unknown>;
    revealSecret(id: string, o: CallOptions): Promise<unknown>;
    sendTest(id: string, t: never, o: CallOptions): Promise<unknown>;
    health(id: string, o: CallOptions): Promise<unknown>;
  };
  messages: { get(id: string, o: CallOptions): Promise<unknown>; list(q: object, o: CallOptions): Promise<unknown> };
  deliveries: { list(q: object, o: CallOptions): Promise<unknown> };
  attempts: { list(q: object, o: CallOptions): Promise<unknown> };
  stats(q: { window?: "1h" | "24h" | "7d" }, o: CallOptions): Promise<unknown>;
  replay(input: { messageId: string; endpointId?: string }, o: CallOptions): Promise<unknown>;
  recover(input: { endpointId: string; since: Date; until?: Date; includeMissing?: boolean }, o: CallOptions): Promise<unknown>;
}

/** `authorize(req)`: the tenant id the request acts for, or null/undefined (answered 401). */
export type Authorize<Req> = (req: Req) => string | null | undefined | Promise<string | null | undefined>;

export interface PortalOptions<Req> {
  authorize: Authorize<Req>;
  /** The path the routes are mounted under (stripped before matching), e.g. "/api/webhooks". */
  basePath?: string;
}

export interface PortalRequest {
  method: string;
  /** The request's path (with `basePath`, which the router strips). */
  path: string;
  query: URLSearchParams;
  /**
   * The body's text, read only once the request is authorised and routed; `null` when it
   * exceeds `max` bytes (or another parser kept it as a parsed value: see `parsed`).
   */
  text: (max: number) => Promise<string | null>;
  /** A body a framework already parsed (Express's `express.json()`, Fastify). */
  parsed?: { value: unknown };
}

export interface PortalAnswer {
  status: number;
  /** JSON; undefined for 204. */
  body?: unknown;
}

/** A request as the route handlers see it: the JSON body parsed. */
interface Routed {
  query: URLSearchParams;
  body: unknown;
}

/** Request bodies the portal reads at most. */
export const PORTAL_MAX_BODY = 1 << 20;

type Params = Record<string, string>;
type Handler = (w: PortalWebhooks, p: Params, r: Routed, o: CallOptions) => Promise<PortalAnswer>;

const ok = async (v: Promise<unknown>, status = 200): Promise<PortalAnswer> => ({ status, body: await v });

function bad(field: string, reason: string): never {
  throw new WebhooksEndpointError("WEBHOOKS_INVALID_ARGUMENT", `invalid \`${field}\`: ${reason}`);
}

/** The JSON body as an object (an absent body is `{}`). */
function object(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) bad("body", "expected a JSON object");
  return body as Record<string, unknown>;
}

function date(v: unknown, field: string): Date | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const d = new Date(String(v));
  // PostgreSQL's timestamps end in year 294276, JavaScript's go further; stay in years 1–9999.
  const y = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || y < 1 || y > 9999) bad(field, `expected an ISO 8601 time, got ${JSON.stringify(v)}`);
  return d;
}

/** The list filters of the query string: strings as given, `limit` a number, times as dates. */
function listQuery(q: URLSearchParams, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = q.get(k);
    if (v === null) continue;
    if (k === "limit") {
      if (!/^\d+$/.test(v)) bad("limit", `expected a whole number, got ${JSON.stringify(v)}`);
      out.limit = Number(v);
    } else if (k === "since" || k === "until") out[k] = date(v, k);
    else out[k] = v;
  }
  return out;
}

const ROUTES: Array<[method: string, pattern: string, handler: Handler]> = [
  ["GET", "/endpoints", (w, _, r, o) => ok(w.endpoints.list(listQuery(r.query, ["status", "cursor", "limit"]), o))],
  ["POST", "/endpoints", (w, _, r, o) => ok(w.endpoints.create(object(r.body) as never, o), 201)],
  ["GET", "/endpoints/:id", (w, p, _, o) => ok(w.endpoints.get(p.id!, o))],
  ["PATCH", "/endpoints/:id", (w, p, r, o) => ok(w.endpoints.update(p.id!, object(r.body) as never, o))],
  ["DELETE", "/endpoints/:id", async (w, p, _, o) => (await w.endpoints.delete(p.id!, o), { status: 204 })],
  ["POST", "/endpoints/:id/enable", (w, p, _, o) => ok(w.endpoints.enable(p.id!, o))],
  ["POST", "/endpoints/:id/disable", (w, p, r, o) => {
    const { reason } = object(r.body);
    if (reason !== undefined && typeof reason !== "string") bad("reason", "expected a string");
    return ok(w.endpoints.disable(p.id!, reason === undefined ? {} : { reason }, o));
  }],
  ["POST", "/endpoints/:id/rotate-secret", (w, p, r, o) => ok(w.endpoints.rotateSecret(p.id!, object(r.body), o))],
  ["GET", "/endpoints/:id/secret", (w, p, _, o) => ok(w.endpoints.revealSecret(p.id!, o))],
  ["POST", "/endpoints/:id/test", (w, p, r, o) => {
    const { eventType } = object(r.body);
    if (eventType !== undefined && typeof eventType !== "string") bad("eventType", "expected a string");
    return ok(w.endpoints.sendTest(p.id!, (eventType === undefined ? {} : { eventType }) as never, o), 202);
  }],
  ["GET", "/endpoints/:id/health", (w, p, _, o) => ok(w.endpoints.health(p.id!, o))],
  ["POST", "/endpoints/:id/recover", (w, p, r, o) => {
    const b = object(r.body);
    const since = date(b.since, "since") ?? bad("since", "required");
    const until = date(b.until, "until");
    if (b.includeMissing !== undefined && typeof b.includeMissing !== "boolean") bad("includeMissing", "expected a boolean");
    return ok(w.recover({ endpointId: p.id!, since, ...(until ? { until } : {}), includeMissing: b.includeMissing === true }, o));
  }],
  ["GET", "/messages", (w, _, r, o) => ok(w.messages.list(listQuery(r.query, ["eventType", "since", "until", "cursor", "limit"]), o))],
  ["GET", "/messages/:id", (w, p, _, o) => ok(w.messages.get(p.id!, o))],
  ["POST", "/messages/:id/replay", (w, p, r, o) => {
    const b = object(r.body);
    if (b.endpointId !== undefined && typeof b.endpointId !== "string") bad("endpointId", "expected an endpoint id");
    return ok(w.replay({ messageId: p.id!, ...(typeof b.endpointId === "string" ? { endpointId: b.endpointId } : {}) }, o));
  }],
  ["GET", "/deliveries", (w, _, r, o) => ok(w.deliveries.list(listQuery(r.query, ["messageId", "endpointId", "status", "cursor", "limit"]), o))],
  ["GET", "/attempts", (w, _, r, o) => ok(w.attempts.list(listQuery(r.query, ["deliveryId", "endpointId", "outcome", "since", "cursor", "limit"]), o))],
  ["GET", "/stats", (w, _, r, o) => {
    const window = r.query.get("window") ?? undefined;
    if (window !== undefined && window !== "1h" && window !== "24h" && window !== "7d") bad("window", 'expected "1h", "24h" or "7d"');
    return ok(w.stats(window ? { window } : {}, o));
  }],
];

function match(pattern: string, path: string): Params | null {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return null;
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i]!.startsWith(":")) {
      if (!got[i]) return null;
      try {
        params[want[i]!.slice(1)] = decodeURIComponent(got[i]!);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) return null;
  }
  return params;
}

/** HTTP status of a coded error of the package (400 unless listed). */
const STATUS: Record<string, number> = {
  WEBHOOKS_NOT_FOUND: 404,
  WEBHOOKS_INVALID_STATE: 409,
  WEBHOOKS_ENDPOINT_DISABLED: 409,
  WEBHOOKS_LIMIT_REACHED: 409,
  WEBHOOKS_IDEMPOTENCY_CONFLICT: 409,
  WEBHOOKS_TENANT_MISMATCH: 403,
  WEBHOOKS_TENANT_REQUIRED: 403,
};

/** The answer for a coded error of the package; anything else is the framework's to handle. */
function failure(err: unknown): PortalAnswer {
  if (!(err instanceof WebhooksError)) throw err;
  const status = STATUS[err.code] ?? (/CONFIG|SECRETS_KEY|NO_TRANSACTION|SCHEMA/.test(err.code) ? 500 : 400);
  return { status, body: { error: { code: err.code, message: err.message } } };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const answer = (status: number, code: string, message: string): PortalAnswer => ({ status, body: { error: { code, message } } });

/** A request body's text as JSON: undefined when empty, an answer (400) when not JSON. */
function jsonBody(text: string): { body: unknown } | PortalAnswer {
  if (text.trim() === "") return { body: undefined };
  try {
    return { body: JSON.parse(text) as unknown };
  } catch {
    return answer(400, "WEBHOOKS_INVALID_ARGUMENT", "invalid `body`: not JSON");
  }
}

/** The path below `base` (at a segment boundary), or null when the request is not under it. */
function below(base: string, path: string): string | null {
  const p = path.replace(/\/+$/, "") || "/";
  if (!base) return p;
  if (p === base) return "/";
  return p.startsWith(`${base}/`) ? p.slice(base.length) : null;
}

/**
 * The portal's router: `null` for a request outside `basePath` (the framework's to route);
 * else authorises (`authorize` throwing goes to the framework: an outage is not a 401), routes,
 * reads the body and answers JSON.
 */
export function portalRouter<Req>(webhooks: PortalWebhooks, opts: PortalOptions<Req>): (raw: Req, r: PortalRequest) => Promise<PortalAnswer | null> {
  if (typeof opts?.authorize !== "function") throw new WebhooksConfigError("WEBHOOKS_INVALID_CONFIG", "portalHandlers: `authorize` must be a function returning the tenant id");
  const base = (opts.basePath ?? "").replace(/\/+$/, "");
  return async (raw, r) => {
    const path = below(base, r.path);
    if (path === null) return null;
    const tenantId = await opts.authorize(raw);
    if (typeof tenantId !== "string" || tenantId === "") return answer(401, "WEBHOOKS_TENANT_REQUIRED", "not authorised: authorize(req) gave no tenant");
    if (!UUID.test(tenantId)) return answer(500, "WEBHOOKS_INVALID_CONFIG", "authorize(req) must return the tenant's UUID");
    const route = ROUTES.map(([m, pattern, h]) => [m, match(pattern, path), h] as const).filter(([, p]) => p);
    if (route.length === 0) return answer(404, "WEBHOOKS_NOT_FOUND", `no portal route ${path}`);
    const found = route.find(([m]) => m === r.method.toUpperCase());
    if (!found) return answer(405, "WEBHOOKS_INVALID_ARGUMENT", `${r.method} is not allowed on ${path}`);
    let body: unknown;
    if (r.parsed) body = r.parsed.value;
    else if (found[0] !== "GET") {
      const text = await r.text(PORTAL_MAX_BODY);
      if (text === null) return answer(413, "WEBHOOKS_INVALID_ARGUMENT", `invalid \`body\`: larger than ${PORTAL_MAX_BODY} bytes`);
      const parsed = jsonBody(text);
      if ("status" in parsed) return parsed;
      body = parsed.body;
    }
    try {
      return await found[2](webhooks, found[1]!, { query: r.query, body }, { tenantId });
    } catch (err) {
      return failure(err);
    }
  };
}

/** A Fetch body's text, up to `max` bytes (`null` past it). */
export async function fetchText(request: Request, max: number): Promise<string | null> {
  if (Number(request.headers.get("content-length") ?? 0) > max) return null;
  const text = await request.text();
  return new TextEncoder().encode(text).byteLength > max ? null : text;
}

/** A portal answer as a Fetch `Response` (`null`, outside the portal, is a 404). */
export function toResponse(a: PortalAnswer | null): Response {
  if (a === null) return Response.json({ error: { code: "WEBHOOKS_NOT_FOUND", message: "not a portal route" } }, { status: 404 });
  return a.body === undefined ? new Response(null, { status: a.status }) : Response.json(a.body, { status: a.status });
}
