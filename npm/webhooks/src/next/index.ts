// `@usebetterdev/webhooks/next`: a route handler, `export const POST = webhookReceiver({ … })`
// (app router; also any Fetch-style runtime). The Request's body is read once, as bytes.
import { checkReceiverOptions, receive, tooLarge, DEFAULT_MAX_BODY_BYTES, type WebhookReceiverOptions } from "../receiver/handle";
import type { InboxExecutor } from "../receiver/inbox";
import { fetchText, portalRouter, toResponse, type PortalOptions, type PortalWebhooks } from "../portal/routes";

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export function webhookReceiver<Tx extends InboxExecutor = InboxExecutor>(opts: WebhookReceiverOptions<Tx>): (request: Request) => Promise<Response> {
  checkReceiverOptions(opts);
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async function webhookReceiverNext(request) {
    if (Number(request.headers.get("content-length") ?? 0) > max) {
      const r = tooLarge(max);
      return answer(r.status, r.body);
    }
    const r = await receive(opts, new Uint8Array(await request.arrayBuffer()), request.headers);
    return answer(r.status, r.body);
  };
}

/**
 * The portal's JSON routes (spec §11) for a catch-all route handler,
 * `app/api/webhooks/[...path]/route.ts`:
 * `export const { GET, POST, PATCH, DELETE } = portalHandlers(webhooks, { authorize, basePath: "/api/webhooks" })`.
 */
export function portalHandlers(webhooks: PortalWebhooks, opts: PortalOptions<Request>) {
  const route = portalRouter(webhooks, opts);
  const h = async (request: Request) => {
    const url = new URL(request.url);
    return toResponse(await route(request, { method: request.method, path: url.pathname, query: url.searchParams, text: (max) => fetchText(request, max) }));
  };
  return { GET: h, POST: h, PATCH: h, DELETE: h };
}

export { webhooksInbox, type InboxDatabase, type InboxExecutor, type InboxOptions, type WebhooksInbox } from "../receiver/inbox";
export type { WebhookReceiverOptions } from "../receiver/handle";
export type { Authorize, PortalOptions, PortalWebhooks } from "../portal/routes";
