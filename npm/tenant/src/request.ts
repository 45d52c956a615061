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
function memoized(inner: NativeResolver): CompiledResolver {
  const seen = new Map<string, Resolution>();
  return {
    get jwtUnverified() {
      return inner.jwtUnverified;
    },
    resolve(input) {
      if (input.token !== undefined || input.claims !== undefined) return inner.resolve(input);
      const key = JSON.stringify([input.headers, input.host, input.path, input.url]);
      if (key.length > MEMO_KEY_MAX) return inner.resolve(input);
      let result = seen.get(key);
      if (!result) {
        result = Object.freeze(inner.resolve(input));
        if (seen.size >= 4096) seen.clear();
        seen.set(key, result);
      }
      return result;
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
    return jwt === undefined ? memoized(native) : native;
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
 * Fetch `Request` (Hono, Next) or a Node request (Express, Fastify) → what resolution reads,
 * in the reference's shape. A Node request's `path` comes first: in Express it is relative to
 * the mount point of `app.use("/api", …)`, as the reference reads it.
 */
export function toResolvableRequest(req: Request | NodeLikeRequest): ResolvableRequest {
  if (isFetchRequest(req)) {
    let host: string | undefined;
    let path: string | undefined;
    try {
      const url = new URL(req.url);
      host = hostWithoutPort(url.host);
      path = url.pathname || undefined;
    } catch {
      // An unparsable URL leaves host and path out; resolution then finds nothing there.
    }
    const out: ResolvableRequest = { headers: req.headers, url: req.url, method: req.method };
    if (path !== undefined) out.path = path;
    if (host !== undefined) out.host = host;
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

/** The headers resolution can read: the configured one, Authorization and Host. */
export function wantedHeaders(config: TenantResolverConfig): string[] {
  const names = ["authorization", "host"];
  if (typeof config.header === "string") names.push(config.header.trim().toLowerCase());
  return names;
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

/**
 * Runs the strategies: header, path, subdomain and jwt in Rust (one call), then `custom`.
 * Returns the normalised candidate (UUID lower-cased, or a slug) and what kind it is; with
 * `resolveToId`, the raw trimmed candidate (kind null), which that callback interprets.
 */
export async function resolveCandidate(
  request: ResolvableRequest,
  config: TenantResolverConfig,
  resolver: CompiledResolver,
  names: readonly string[] = wantedHeaders(config),
): Promise<Candidate | undefined> {
  const headers = pickHeaders(request.headers, names);
  const input: Parameters<typeof resolver.resolve>[0] = { headers };
  if (request.host !== undefined) input.host = request.host;
  if (request.path !== undefined) input.path = request.path;
  if (request.url !== undefined) input.url = request.url;
  const getToken = request.getToken;
  if (typeof getToken === "function" || typeof getToken === "string") {
    const token = typeof getToken === "function" ? await getToken() : getToken;
    if (token) input.token = token;
  }
  const jwt = typeof config.jwt === "object" ? (config.jwt as JwtResolverConfig) : undefined;
  let result: Resolution = resolver.resolve(input);
  if (result.value === null && jwt?.verifyToken) {
    const token = input.token ?? bearer(headers);
    const claims = token ? await jwt.verifyToken(token) : null;
    if (claims) result = resolver.resolve({ ...input, claims });
  }
  if (result.value !== null) return { value: result.value, kind: result.kind };
  if (config.custom) {
    const raw = await config.custom(request);
    if (typeof raw === "string" && raw.trim()) {
      if (config.resolveToId) return { value: raw.trim(), kind: null };
      try {
        return core.normalizeTenantId(raw);
      } catch {
        return undefined; // neither UUID nor slug: treated like no value, never guessed at
      }
    }
  }
  return undefined;
}
