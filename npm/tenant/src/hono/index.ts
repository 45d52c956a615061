import { getContext } from "../context";
import { RollbackSignal } from "../errors";
import { checkTenant, missingBody, missingStatus, scopedThen, type MiddlewareTenant } from "../middleware";

export interface HonoContextLike {
  req: { raw: Request };
  env?: unknown;
  json: (value: unknown, status?: number) => Response;
  set?: (key: string, value: unknown) => void;
  error?: unknown;
}

export interface CreateHonoMiddlewareOptions {
  missingTenantStatus?: 401 | 404;
  attachTenantToContext?: boolean;
  onMissingTenant?: (context: HonoContextLike) => Response | Promise<Response>;
}

export type HonoMiddleware = (context: HonoContextLike, next: () => Promise<void>) => Promise<Response | void>;

/**
 * On @hono/node-server the Node response tells directly; reading `req.raw.signal` there would
 * build an AbortController for every request. Other runtimes expose only the signal.
 */
function clientGone(c: HonoContextLike): boolean {
  const outgoing = (c.env as { outgoing?: { destroyed?: boolean; writableFinished?: boolean } } | undefined)?.outgoing;
  if (outgoing && typeof outgoing.destroyed === "boolean") return outgoing.destroyed && !outgoing.writableFinished;
  return c.req.raw.signal?.aborted === true;
}

/**
 * Resolves the tenant and runs the rest of the request in its transaction. A handler that
 * throws (Hono records it in `c.error`) or whose client disconnected rolls the transaction
 * back. The handler keeps its own transaction until it returns, so it never shares one.
 */
export function createHonoMiddleware(tenant: MiddlewareTenant, options: CreateHonoMiddlewareOptions = {}): HonoMiddleware {
  checkTenant(tenant, "createHonoMiddleware");
  const status = missingStatus(options, "createHonoMiddleware");
  return function betterTenantHono(c, next) {
    let handled = false;
    return scopedThen(
      tenant,
      c.req.raw,
      () => {
        if (options.attachTenantToContext) c.set?.("tenantId", getContext()?.tenantId);
        handled = true;
        return next().then(() => {
          if (c.error !== undefined) throw new RollbackSignal(c.error);
          // The client went away: nobody will see this response, so nothing of it is kept.
          if (clientGone(c)) throw new RollbackSignal("client closed the connection");
        });
      },
      () => clientGone(c),
      (missing) => {
        if (missing) return options.onMissingTenant ? options.onMissingTenant(c) : c.json(missingBody(tenant), status);
        // The client left before the scope began, so no handler ran; Hono still needs a response
        // (nobody reads it: 499, "client closed request").
        if (!handled) return new Response(null, { status: 499 });
        return undefined;
      },
    );
  };
}
