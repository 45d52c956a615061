import { runAudited, type MiddlewareOptions } from "../middleware";

export interface HonoContextLike {
  req: { raw: Request };
  env?: unknown;
}
export type HonoMiddleware = (context: HonoContextLike, next: () => Promise<void>) => Promise<Response | void>;
export type CreateHonoMiddlewareOptions = MiddlewareOptions;

/** `app.use("*", betterAuditHono())`: the actor and request metadata for the rest of the chain. */
export function createHonoMiddleware(options: CreateHonoMiddlewareOptions = {}): HonoMiddleware {
  return async function betterAuditHonoMiddleware(c, next) {
    const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    await runAudited(c.req.raw, options, next, incoming?.socket?.remoteAddress);
  };
}

export const betterAuditHono = createHonoMiddleware;
