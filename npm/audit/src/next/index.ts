// No static import of `next`: this entry loads in plain Node, and `withAudit` reaches
// `next/headers` only when it runs inside a Next request.
import { contextFor, runAudited, type MiddlewareOptions } from "../middleware";

export { fromBearerToken, fromCookie, fromHeader } from "../extractors";
export { getAuditContext, runWithAuditContext } from "../context";

export const AUDIT_ACTOR_HEADER = "x-better-audit-actor-id";
type RouteContext = Record<string, unknown> | undefined;
export type BaseAuditOptions = MiddlewareOptions;
export interface CreateAuditMiddlewareOptions extends BaseAuditOptions {
  actorHeader?: string;
}

/** Edge middleware: always overwrites the actor header (so clients cannot spoof it). */
export function createAuditMiddleware(options: CreateAuditMiddlewareOptions = {}) {
  const name = options.actorHeader ?? AUDIT_ACTOR_HEADER;
  return async function betterAuditNextMiddleware(request: Request): Promise<Response> {
    const ctx = await contextFor(request, { ...options, requestMetadata: false });
    const headers = new Headers(request.headers);
    headers.set(name, ctx.actorId ?? "");
    // The shape NextResponse.next({ request: { headers } }) produces.
    const out = new Headers({ "x-middleware-next": "1", "x-middleware-override-headers": [...headers.keys()].join(",") });
    for (const [k, v] of headers) out.set(`x-middleware-request-${k}`, v);
    return new Response(null, { headers: out });
  };
}
export const betterAuditNext = createAuditMiddleware;

export function withAuditRoute<C extends RouteContext = RouteContext, Req extends Request = Request>(
  handler: (request: Req, context: C) => Promise<Response>,
  options: BaseAuditOptions = {},
): (request: Req, context: C) => Promise<Response> {
  return (request, context) => runAudited(request, options, () => handler(request, context));
}

/** Server actions: reads the request headers through `next/headers`. */
export function withAudit<TArgs extends unknown[], TResult>(
  action: (...args: TArgs) => Promise<TResult>,
  options: BaseAuditOptions = {},
): (...args: TArgs) => Promise<TResult> {
  return async (...args) => {
    let request: Request | undefined;
    try {
      const mod = (await import("next/headers" as string)) as { headers: () => Promise<Headers> | Headers };
      request = new Request("http://localhost", { headers: await mod.headers() });
    } catch (err) {
      options.onError?.(err);
    }
    return request ? runAudited(request, { ...options, requestMetadata: false }, () => action(...args)) : action(...args);
  };
}

