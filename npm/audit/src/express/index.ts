import { runAudited, type MiddlewareOptions } from "../middleware";

export interface ExpressRequestLike {
  headers: Record<string, string | string[] | number | undefined>;
  url: string;
  originalUrl?: string;
  hostname?: string;
  method?: string;
  ip?: string;
}
export interface ExpressResponseLike {
  on?: (event: string, listener: (...args: unknown[]) => void) => unknown;
}
export type ExpressNextFunction = (error?: unknown) => void;
export type ExpressMiddleware = (req: ExpressRequestLike, res: ExpressResponseLike, next: ExpressNextFunction) => Promise<void>;
export type CreateExpressMiddlewareOptions = MiddlewareOptions;

function toRequest(req: ExpressRequestLike): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : String(v));
  }
  return new Request(`http://${req.hostname ?? "localhost"}${req.originalUrl ?? req.url}`, { method: req.method ?? "GET", headers });
}

/** Runs the downstream handlers inside the audit context until the response ends. */
export function createExpressMiddleware(options: CreateExpressMiddlewareOptions = {}): ExpressMiddleware {
  return async function betterAuditExpressMiddleware(req, res, next) {
    let request: Request;
    try {
      request = toRequest(req);
    } catch (err) {
      next(err);
      return;
    }
    await runAudited(
      request,
      options,
      () =>
        new Promise<void>((resolve) => {
          res.on?.("finish", () => resolve());
          res.on?.("close", () => resolve());
          next();
          if (!res.on) resolve();
        }),
      req.ip,
    );
  };
}

export const betterAuditExpress = createExpressMiddleware;
