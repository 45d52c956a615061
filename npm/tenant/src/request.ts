import core from "@usebetter-rs/core";
import type { Resolution, ResolverConfig } from "@usebetter-rs/core";
import { TenantConfigError } from "./errors";
import type { JwtResolverConfig, NodeLikeRequest, ResolvableRequest, TenantResolverConfig } from "./types";

type NativeResolver = InstanceType<typeof core.TenantResolver>;
export type CompiledResolver = Pick<NativeResolver, "resolve" | "jwtUnverified">;

/** Longest request description kept: a cache keyed by what clients send must stay small. */
const MEMO_KEY_MAX = 512;

/**
 * Without a JWT strategy a resolution depends only on the request's headers, host, path and
 * URL, so requests that repeat them (every request of a tenant, by header) reuse the answer
 * instead of crossing into the core again. With JWTs the answer depends on the time (expiry)
 * and is always computed.
 */
function memoized(inner: NativeResolver, reads: Reads): CompiledResolver {
  const seen = new Map<string, Resolution>();
  // One header and nothing else read (a header strategy alone): that header's value is the key.
  const only = !reads.url && reads.names.length === 1 ? reads.names[0] : undefined;
  const byValue = new Map<string, Resolution>();
  const remember = (memo: Map<string, Resolution>, key: string, input: Parameters<NativeResolver["resolve"]>[0]) => {
    let result = memo.get(key);
    if (!result) {
      result = Object.freeze(inner.resolve(input));
      if (memo.size >= 4096) memo.clear();
      memo.set(key, result);
    }
    return result;
  };
  return {
    get jwtUnverified() {
      return inner.jwtUnverified;
    },
    resolve(input) {
      if (input.token !== undefined || input.claims !== undefined) return inner.resolve(input);
      if (only !== undefined) {
        const value = (input.headers as Record<string, unknown> | undefined)?.[only];
        if (typeof value === "string" && value.length <= MEMO_KEY_MAX) return remember(byValue, value, input);
      }
      const key = JSON.stringify([input.headers, input.host, input.path, input.url]);
      return key.length > MEMO_KEY_MAX ? inner.resolve(input) : remember(seen, key, input);
    },
  };
}

/** The part of `tenantResolver` that Rust evaluates, validated once (its shape and rules are Rust's). */
export function compileResolver(config: TenantResolverConfig): CompiledResolver {
  if (config === null || typeof config !== "object") {
    throw new TenantConfigError("better-tenant: `tenantResolver` is required: an object such as { header: \"x-tenant-id\" }");
  }
  const { custom, resolveToId, jwt, ...rest } = config;
  for (const [key, value] of [["custom", custom], ["resolveToId", resolveToId]] as const) {
    if (value !== undefined && typeof value !== "function") {
      throw new TenantConfigError(`better-tenant: \`tenantResolver.${key}\` must be a function`);
    }
  }
  // The callbacks stay here; Rust learns only that `custom` exists (it counts as a strategy).
  const rust: ResolverConfig = { ...rest };
  if (custom !== undefined) rust.custom = true;
  if (resolveToId !== undefined) rust.resolveToId = true;
  if (jwt !== undefined) {
    if (typeof jwt === "object" && jwt !== null) {
      const { verifyToken, ...keys } = jwt;
      if (verifyToken !== undefined && typeof verifyToken !== "function") {
        throw new TenantConfigError("better-tenant: `tenantResolver.jwt.verifyToken` must be a function");
      }
      rust.jwt = keys;
    } else {
      rust.jwt = jwt as string;
    }
  }
  try {
    const native = new core.TenantResolver(rust);
    return jwt === undefined ? memoized(native, readsOf(config)) : native;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new TenantConfigError(`better-tenant: invalid tenantResolver: ${message}`, { cause: err });
  }
}

export function describeStrategies(config: TenantResolverConfig): string[] {
  const out: string[] = [];
  if (config.header !== undefined) out.push(`header '${config.header}'`);
  if (config.path !== undefined) out.push(`path '${typeof config.path === "string" ? config.path : config.path.pattern}'`);
  if (config.subdomain !== undefined && config.subdomain !== false) out.push("subdomain");
  if (config.jwt !== undefined) out.push(`jwt claim '${typeof config.jwt === "string" ? config.jwt : config.jwt.claim}'`);
  if (config.custom !== undefined) out.push("custom resolver");
  return out;
}

export function formatMissingTenantMessage(strategies: readonly string[]): string {
  return strategies.length
    ? `Tenant could not be resolved. Checked: ${strategies.join(", ")}`
    : "Tenant could not be resolved. No resolution strategies configured";
}

function isFetchRequest(r: unknown): r is Request {
  return typeof Request !== "undefined" && r instanceof Request;
}

/** The host without its port (`[::1]:3000` keeps its brackets: `[::1]`); blank → undefined. */
function hostWithoutPort(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const text = String(raw);
  const end = text.startsWith("[") ? text.indexOf("]") + 1 : 0;
  const host = (end > 0 ? text.slice(0, end) : text.split(":")[0] ?? "").trim();
  return host || undefined;
}

function pathWithoutQuery(raw: string | undefined): string | undefined {
  return raw ? raw.split("?")[0] || undefined : undefined;
}

/**
 * What resolution reads of a request, from the strategies configured: the headers it looks at
 * (the configured one; Authorization for a JWT; Host for a subdomain), whether it reads the
 * request's host, path or URL (path and subdomain strategies), and whether a `custom` resolver
 * receives the request whole. Nothing else is taken from a request or converted for Rust.
 */
export interface Reads {
  readonly names: readonly string[];
  readonly url: boolean;
  readonly whole: boolean;
}

/** Where a betterTenant() instance keeps its `Reads` (framework adapters read it). */
export const REQUEST_READS = Symbol("usebetter.tenant.reads");

export const READ_ALL: Reads = Object.freeze({ names: Object.freeze(["authorization", "host"]), url: true, whole: true });

export function readsOf(config: TenantResolverConfig): Reads {
  const names: string[] = [];
  if (config.jwt !== undefined) names.push("authorization");
  const subdomain = config.subdomain !== undefined && config.subdomain !== false;
  if (subdomain) names.push("host");
  if (typeof config.header === "string") names.push(config.header.trim().toLowerCase());
  return Object.freeze({ names: Object.freeze(names), url: subdomain || config.path !== undefined, whole: config.custom !== undefined });
}

/**
 * Fetch `Request` (Hono, Next) or a Node request (Express, Fastify) → what resolution reads,
 * in the reference's shape. A Node request's `path` comes first: in Express it is relative to
 * the mount point of `app.use("/api", …)`, as the reference reads it.
 */
export function toResolvableRequest(req: Request | NodeLikeRequest): ResolvableRequest {
  return resolvable(req, READ_ALL);
}

/** `toResolvableRequest`, leaving out what `reads` says resolution never looks at (a URL parse for a header strategy). */
export function resolvable(req: Request | NodeLikeRequest, reads: Reads): ResolvableRequest {
  if (isFetchRequest(req)) {
    const out: ResolvableRequest = { headers: req.headers, url: req.url, method: req.method };
    if (!reads.url && !reads.whole) return out;
    try {
      const url = new URL(out.url!);
      const host = hostWithoutPort(url.host);
      const path = url.pathname || undefined;
      if (path !== undefined) out.path = path;
      if (host !== undefined) out.host = host;
    } catch {
      // An unparsable URL leaves host and path out; resolution then finds nothing there.
    }
    return out;
  }
  const headers: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    headers[k.toLowerCase()] = Array.isArray(v) ? v.map(String) : v === undefined ? undefined : String(v);
  }
  const hostHeader = Array.isArray(headers.host) ? headers.host[0] : headers.host;
  const host = hostWithoutPort(req.hostname ?? req.host ?? hostHeader);
  const path = pathWithoutQuery(req.path ?? req.originalUrl ?? req.url);
  const out: ResolvableRequest = { headers };
  if (path !== undefined) out.path = path;
  if (host !== undefined) out.host = host;
  if (req.method !== undefined) out.method = req.method;
  return out;
}

// Only the headers resolution reads cross into Rust: each converted header costs time per request.
function pickHeaders(headers: ResolvableRequest["headers"], names: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (typeof Headers !== "undefined" && headers instanceof Headers) {
    for (const name of names) {
      const v = headers.get(name);
      if (v !== null) out[name] = v;
    }
    return out;
  }
  const plain = (headers ?? {}) as Record<string, string | string[] | undefined>;
  for (const name of names) {
    const v = plain[name] ?? Object.entries(plain).find(([k]) => k.toLowerCase() === name)?.[1];
    if (typeof v === "string" || Array.isArray(v)) out[name] = v;
  }
  return out;
}

/** A resolved identifier: a lower-cased UUID, a slug, or (kind null) raw for `resolveToId`. */
export interface Candidate {
  value: string;
  kind: "uuid" | "slug" | null;
}

function bearer(headers: Record<string, string | string[]>): string | undefined {
  const raw = headers.authorization ?? headers.Authorization;
  return core.bearerToken(Array.isArray(raw) ? raw[0] : raw) ?? undefined;
}

type Answer = Candidate | undefined | Promise<Candidate | undefined>;

/**
 * Runs the strategies: header, path, subdomain and jwt in Rust (one call), then `custom`.
 * Returns the normalised candidate (UUID lower-cased, or a slug) and what kind it is; with
 * `resolveToId`, the raw trimmed candidate (kind null), which that callback interprets. Without
 * a callback to wait for (`getToken`, `verifyToken`, `custom`) the answer comes synchronously.
 */
export function resolveCandidate(request: ResolvableRequest, config: TenantResolverConfig, resolver: CompiledResolver, reads: Reads = readsOf(config)): Answer {
  const headers = pickHeaders(request.headers, reads.names);
  const input: ResolveInput = { headers };
  if (reads.url) {
    if (request.host !== undefined) input.host = request.host;
    if (request.path !== undefined) input.path = request.path;
    if (request.url !== undefined) input.url = request.url;
  }
  const getToken = request.getToken;
  if (typeof getToken === "function") {
    return Promise.resolve(getToken()).then((token) => {
      if (token) input.token = token;
      return byStrategies(request, config, resolver, input);
    });
  }
  if (typeof getToken === "string" && getToken) input.token = getToken;
  return byStrategies(request, config, resolver, input);
}

type ResolveInput = Parameters<CompiledResolver["resolve"]>[0];

function byStrategies(request: ResolvableRequest, config: TenantResolverConfig, resolver: CompiledResolver, input: ResolveInput): Answer {
  const result: Resolution = resolver.resolve(input);
  if (result.value !== null) return { value: result.value, kind: result.kind };
  const jwt = typeof config.jwt === "object" ? (config.jwt as JwtResolverConfig) : undefined;
  const token = jwt?.verifyToken ? (input.token ?? bearer(input.headers as Record<string, string | string[]>)) : undefined;
  if (!token) return byCustom(request, config);
  return Promise.resolve(jwt!.verifyToken!(token)).then((claims) => {
    const verified = claims ? resolver.resolve({ ...input, claims }) : result;
    return verified.value !== null ? { value: verified.value, kind: verified.kind } : byCustom(request, config);
  });
}

function byCustom(request: ResolvableRequest, config: TenantResolverConfig): Answer {
  if (!config.custom) return undefined;
  return Promise.resolve(config.custom(request)).then((raw): Candidate | undefined => {
    if (typeof raw !== "string" || !raw.trim()) return undefined;
    if (config.resolveToId) return { value: raw.trim(), kind: null };
    try {
      return core.normalizeTenantId(raw);
    } catch {
      return undefined; // neither UUID nor slug: treated like no value, never guessed at
    }
  });
}
