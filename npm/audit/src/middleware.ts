// Shared by the framework adapters: find the actor, collect request metadata, and run the rest
// of the request inside that audit context.
import { runWithAuditContext, type AuditContext } from "./context";
import { fromBearerToken, type ContextExtractor } from "./extractors";

export interface MiddlewareOptions {
  extractor?: ContextExtractor;
  onError?: (error: unknown) => void;
  /** Record request id, method, path, IP and user agent in `metadata`. Default true. */
  requestMetadata?: boolean;
}

const DEFAULT_EXTRACTOR: ContextExtractor = { actor: fromBearerToken("sub") };

function requestMetadata(request: Request, ip: string | undefined): Record<string, unknown> {
  const url = new URL(request.url);
  const meta: Record<string, unknown> = {
    requestId: request.headers.get("x-request-id") ?? globalThis.crypto.randomUUID(),
    method: request.method,
    path: url.pathname,
  };
  const forwarded = request.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  const addr = ip ?? forwarded;
  if (addr) meta.ip = addr;
  const ua = request.headers.get("user-agent");
  if (ua) meta.userAgent = ua;
  return meta;
}

/** The audit context for `request`; extractor failures go to `onError` and give no actor. */
export async function contextFor(request: Request, options: MiddlewareOptions, ip?: string): Promise<AuditContext> {
  const extractor = options.extractor ?? DEFAULT_EXTRACTOR;
  let actorId: string | undefined;
  try {
    actorId = (await extractor.actor?.(request)) ?? undefined;
  } catch (err) {
    options.onError?.(err);
  }
  const ctx: AuditContext = {};
  if (actorId) ctx.actorId = actorId;
  if (options.requestMetadata !== false) ctx.metadata = requestMetadata(request, ip);
  return ctx;
}

export async function runAudited<T>(request: Request, options: MiddlewareOptions, next: () => Promise<T>, ip?: string): Promise<T> {
  const ctx = await contextFor(request, options, ip);
  return Object.keys(ctx).length ? runWithAuditContext(ctx, next) : next();
}
