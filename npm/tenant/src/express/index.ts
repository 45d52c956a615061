import { currentScopeCloser } from "../context";
import { RollbackSignal } from "../errors";
import { checkTenant, missingBody, missingStatus, runScoped, type MiddlewareTenant } from "../middleware";
import type { NodeLikeRequest } from "../types";

export type { TenantContext } from "../context";

export interface ExpressRequestLike extends NodeLikeRequest {
  headers: Record<string, string | string[] | number | undefined>;
}

export interface ExpressResponseLike {
  status: (code: number) => ExpressResponseLike;
  json: (body: unknown) => unknown;
  on?: (event: string, listener: (...args: unknown[]) => void) => unknown;
  statusCode?: number;
  writableFinished?: boolean;
  closed?: boolean;
  destroyed?: boolean;
}

export type ExpressNextFunction = (error?: unknown) => void;

export interface CreateExpressMiddlewareOptions {
  missingTenantStatus?: 401 | 404;
  onMissingTenant?: (request: ExpressRequestLike, response: ExpressResponseLike) => void | Promise<void>;
}

export type ExpressMiddleware = (request: ExpressRequestLike, response: ExpressResponseLike, next: ExpressNextFunction) => Promise<void>;

/** How a response ended: sent completely, or the connection closed first (client abort). */
function ended(res: ExpressResponseLike, onAbort: () => void): Promise<"finish" | "close"> {
  // The events may be over already: the client can leave while the request waits for a
  // pooled connection, and waiting for an event that never comes would hold that connection.
  if (res.writableFinished) return Promise.resolve("finish");
  if (res.closed || res.destroyed) {
    onAbort();
    return Promise.resolve("close");
  }
  return new Promise((resolve) => {
    res.on?.("finish", () => resolve("finish"));
    res.on?.("close", () => {
      if (res.writableFinished) return resolve("finish");
      onAbort();
      resolve("close");
    });
  });
}

/**
 * The transaction spans the downstream handlers until the response is sent, and commits only
 * then. It rolls back when the response is a 5xx (an error handler ran) or the client went
 * away; in that case the handler's database handle is closed, so a still-running handler can
 * never query on a connection that has moved on to another request.
 */
export function createExpressMiddleware(tenant: MiddlewareTenant, options: CreateExpressMiddlewareOptions = {}): ExpressMiddleware {
  checkTenant(tenant, "createExpressMiddleware");
  const status = missingStatus(options, "createExpressMiddleware");
  return async function betterTenantExpress(req, res, next) {
    try {
      const { missing } = await runScoped(tenant, req, async () => {
        const end = res.on ? ended(res, currentScopeCloser()) : Promise.resolve("finish" as const);
        next();
        const how = await end;
        if (how === "close") throw new RollbackSignal("client closed the connection");
        if ((res.statusCode ?? 200) >= 500) throw new RollbackSignal(`response status ${res.statusCode}`);
      }, () => (res.closed === true || res.destroyed === true) && res.writableFinished !== true);
      if (missing) {
        if (options.onMissingTenant) await options.onMissingTenant(req, res);
        else res.status(status).json(missingBody(tenant));
      }
    } catch (err) {
      next(err);
    }
  };
}
