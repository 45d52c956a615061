// No import of next/server: a standard Response is a valid route-handler result, and this
// entry then loads in plain Node too.
import { checkTenant, missingBody, missingStatus, type MiddlewareTenant } from "../middleware";
import { toResolvableRequest } from "../request";

type RouteContext = Record<string, unknown> | undefined;

export interface WithTenantOptions<Context extends RouteContext> {
  missingTenantStatus?: 401 | 404;
  onMissingTenant?: (request: Request, context: Context) => Response | Promise<Response>;
}

/** Wraps a route handler: resolves the tenant, runs the handler in its transaction (a throw rolls back). */
export function withTenant<Context extends RouteContext = RouteContext, Req extends Request = Request>(
  tenant: MiddlewareTenant,
  handler: (request: Req, context: Context) => Promise<Response>,
  options: WithTenantOptions<Context> = {},
): (request: Req, context: Context) => Promise<Response> {
  checkTenant(tenant, "withTenant");
  const status = missingStatus(options, "withTenant");
  return function betterTenantNext(request, context) {
    return tenant.handleRequest(toResolvableRequest(request), () => handler(request, context), {
      onMissingTenant: () =>
        options.onMissingTenant ? options.onMissingTenant(request, context) : Response.json(missingBody(tenant), { status }),
      isAborted: () => request.signal?.aborted === true,
    });
  };
}
